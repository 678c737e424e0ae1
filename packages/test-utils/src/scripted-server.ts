import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import { listen } from './servers'

/** What a {@link startServer} server saw of one request. */
export interface SeenRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  /** The request body, read to its end before the handler runs. */
  body: string
  /** `performance.now()` when the request arrived. */
  at: number
  /** The response, for handlers that answer later. */
  res: ServerResponse
  /** Whether the client went away or the response ended. */
  closed: boolean
  /** Resolves when the client went away or the response ended. */
  gone: Promise<void>
}

/** A {@link startServer} server. */
export interface ScriptedServer {
  url: string
  /** Every request seen, in arrival order (CORS preflights excluded). */
  requests: SeenRequest[]
  close(): Promise<void>
}

/**
 * A real node:http server on 127.0.0.1:0 whose answers a test scripts by
 * hand (raw frames, odd statuses, dropped connections), recording every
 * request with its body. With `cors`, it answers preflights as a real
 * deployment for a page on another origin must (`Last-Event-ID` allowed).
 *
 * @example
 * ```ts
 * const server = await startServer((seen) => openStream(seen.res, 'data: hi\n\n'))
 * ```
 */
export async function startServer(
  handler: (seen: SeenRequest, req: IncomingMessage) => void,
  options: { cors?: boolean } = {},
): Promise<ScriptedServer> {
  const requests: SeenRequest[] = []
  const server = http.createServer((req, res) => {
    const at = performance.now()
    if (options.cors === true) {
      res.setHeader('access-control-allow-origin', '*')
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-headers': 'last-event-id, accept, authorization, content-type',
          'access-control-allow-methods': 'GET, POST',
        })
        res.end()
        return
      }
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at,
        res,
        closed: false,
        gone: new Promise((resolve) =>
          res.once('close', () => {
            seen.closed = true
            resolve()
          }),
        ),
      }
      requests.push(seen)
      handler(seen, req)
    })
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
