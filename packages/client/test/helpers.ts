import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { listen } from '@sse/test-utils/servers'

/** What the test server saw of one request. */
export interface SeenRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
  /** performance.now() when the request arrived. */
  at: number
  /** Resolves when the client went away or the response ended. */
  closed: Promise<void>
}

export interface TestServer {
  url: string
  requests: SeenRequest[]
  close(): Promise<void>
}

/** A real node:http server on 127.0.0.1:0 that records every request (body included). */
export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void,
): Promise<TestServer> {
  const requests: SeenRequest[] = []
  const server = http.createServer((req, res) => {
    const at = performance.now()
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at,
        closed: new Promise((resolve) => res.once('close', () => resolve())),
      }
      requests.push(seen)
      handler(req, res, seen)
    })
  })
  const { url, close } = await listen(server)
  return { url, requests, close }
}

/** Polls until `condition` holds; fails the test after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`)
    await sleep(5)
  }
}

/** Writes an event-stream head and the given raw frames, leaving the response open. */
export function openStream(res: ServerResponse, frames = ''): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  res.flushHeaders()
  if (frames) res.write(frames)
}
