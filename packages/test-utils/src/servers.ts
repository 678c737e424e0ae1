import type { Server as HttpServer } from 'node:http'
import type { Http2SecureServer, Http2Server } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { Server as TlsServer } from 'node:tls'

/** A server from node:http, node:https or node:http2 (cleartext or TLS). */
export type NodeServer = HttpServer | Http2Server | Http2SecureServer

/** A server listening on 127.0.0.1 for a test. */
export interface ListeningServer {
  /** `http://127.0.0.1:<port>`, or `https://…` for a TLS server. */
  url: string
  port: number
  /** Drops open connections (event streams never end on their own) and closes. */
  close(): Promise<void>
}

/** Listens on 127.0.0.1 with a port the OS picks (0), as every test server should. */
export async function listen(server: NodeServer): Promise<ListeningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const scheme = server instanceof TlsServer ? 'https' : 'http'
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // HTTP/2 servers have no closeAllConnections; their sessions end with close().
        if ('closeAllConnections' in server) server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}
