import { readFileSync } from 'node:fs'
import http, { type IncomingHttpHeaders } from 'node:http'
import http2 from 'node:http2'
import { createParser, type ParsedEvent } from '@sse/core'

/** The self-signed certificate for `localhost`/`127.0.0.1` used by TLS tests. */
export const tls = {
  cert: readFileSync(new URL('../fixtures/cert.pem', import.meta.url)),
  key: readFileSync(new URL('../fixtures/key.pem', import.meta.url)),
}

/** What a raw stream read saw, parsed with the core parser. */
export interface StreamCapture {
  status: number
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>
  events: ParsedEvent[]
  comments: string[]
  retries: number[]
  /** Milliseconds since the request started, per event. */
  times: number[]
}

/**
 * Reads an event stream with fetch until `until` says stop (or the stream
 * ends), then aborts. Rejects after `timeoutMs` so a stalled stream fails fast.
 */
export async function fetchEvents(
  url: string,
  options: {
    headers?: Record<string, string>
    until?: (capture: StreamCapture) => boolean
    timeoutMs?: number
  } = {},
): Promise<StreamCapture> {
  const controller = new AbortController()
  const timer = setTimeout(
    () => controller.abort(new Error(`fetchEvents timed out: ${url}`)),
    options.timeoutMs ?? 5000,
  )
  const started = performance.now()
  try {
    const response = await fetch(url, { headers: options.headers ?? {}, signal: controller.signal })
    const capture: StreamCapture = {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      events: [],
      comments: [],
      retries: [],
      times: [],
    }
    const parser = createParser({
      onEvent: (event) => {
        capture.events.push(event)
        capture.times.push(performance.now() - started)
      },
      onComment: (comment) => capture.comments.push(comment),
      onRetry: (retry) => capture.retries.push(retry),
    })
    const until = options.until ?? (() => false)
    const reader = response.body!.getReader()
    while (!until(capture)) {
      const { done, value } = await reader.read()
      if (done) break
      parser.feed(value)
    }
    controller.abort()
    return capture
  } finally {
    clearTimeout(timer)
  }
}

/** The response head from node:http, which (unlike fetch) shows `Connection`. */
// A keep-alive agent, as browsers and undici use: with `agent: false` Node
// sends `Connection: close`, and a server rightly answers `close`.
const keepAliveAgent = new http.Agent({ keepAlive: true })

export function httpHead(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: keepAliveAgent }, (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers })
      res.destroy()
    })
    req.on('error', reject)
  })
}

/** Reads an event stream over HTTP/2 (h2c or TLS) with node:http2's client. */
export function http2Events(url: string, count: number, timeoutMs = 5000): Promise<StreamCapture> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { ca: tls.cert })
    const timer = setTimeout(() => {
      session.destroy()
      reject(new Error(`http2Events timed out: ${url}`))
    }, timeoutMs)
    session.on('error', reject)
    const { pathname, search } = new URL(url)
    const stream = session.request({ ':path': pathname + search })
    const capture: StreamCapture = {
      status: 0,
      headers: {},
      events: [],
      comments: [],
      retries: [],
      times: [],
    }
    const parser = createParser({
      onEvent: (event) => capture.events.push(event),
      onRetry: (retry) => capture.retries.push(retry),
    })
    stream.on('response', (headers) => {
      capture.status = Number(headers[':status'])
      capture.headers = headers
    })
    stream.on('data', (chunk: Buffer) => {
      parser.feed(chunk)
      if (capture.events.length >= count) {
        clearTimeout(timer)
        stream.close()
        session.close()
        resolve(capture)
      }
    })
    stream.on('error', reject)
  })
}
