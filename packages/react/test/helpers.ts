import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { listen } from '@sse/test-utils/servers'

/** What the test server saw of one (non-preflight) request. */
export interface SeenRequest {
  url: string
  headers: IncomingHttpHeaders
  res: ServerResponse
  /** Whether the client went away or the response ended. */
  closed: boolean
}

export interface TestServer {
  url: string
  requests: SeenRequest[]
  close(): Promise<void>
}

/**
 * A real node:http server on 127.0.0.1:0. The page (happy-dom) is on another
 * origin, so it answers CORS preflights as a real deployment must (with
 * `Last-Event-ID` allowed for reconnects).
 */
export async function startServer(handler: (seen: SeenRequest) => void): Promise<TestServer> {
  const requests: SeenRequest[] = []
  const server = http.createServer((req, res) => {
    res.setHeader('access-control-allow-origin', '*')
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-headers': 'last-event-id, accept, authorization',
        'access-control-allow-methods': 'GET, POST',
      })
      res.end()
      return
    }
    const seen: SeenRequest = { url: req.url ?? '', headers: req.headers, res, closed: false }
    res.once('close', () => {
      seen.closed = true
    })
    requests.push(seen)
    handler(seen)
  })
  const { url, close } = await listen(server)
  return { url, requests, close }
}

/** Writes an event-stream head and the given raw frames, leaving the response open. */
export function openStream(res: ServerResponse, frames = ''): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  res.flushHeaders()
  if (frames) res.write(frames)
}

/** Polls until `condition` holds; fails after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`)
    await sleep(5)
  }
}
