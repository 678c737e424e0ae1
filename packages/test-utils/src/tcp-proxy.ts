/**
 * A TCP proxy on 127.0.0.1 (port 0) in front of a server (Redis, NATS…)
 * that a test can cut off: every connection through it dropped and new
 * ones refused, until restored. An outage of one process's connections,
 * with the server itself and everyone else's connections untouched.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'

export interface TcpProxy {
  /** `<scheme>://127.0.0.1:<port>`, the target's scheme. */
  url: string
  /** Drops every connection through the proxy and refuses new ones. */
  cut(): void
  /** Accepts connections again. */
  restore(): void
  /** Cuts, and stops listening. */
  close(): void
}

/** A proxy to `target` (`redis://127.0.0.1:6379`, `nats://127.0.0.1:4222`…). */
export async function tcpProxy(target: string): Promise<TcpProxy> {
  const { protocol, hostname, port } = new URL(target)
  if (port === '') throw new Error(`tcpProxy: ${target} names no port`)
  const sockets = new Set<Socket>()
  let down = false
  const server: Server = createServer((client) => {
    if (down) {
      client.destroy()
      return
    }
    const upstream = tcpConnect(Number(port), hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const proxy: TcpProxy = {
    url: `${protocol}//127.0.0.1:${(server.address() as { port: number }).port}`,
    cut() {
      down = true
      for (const socket of sockets) socket.destroy()
    },
    restore() {
      down = false
    },
    close() {
      proxy.cut()
      server.close()
    },
  }
  return proxy
}
