import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import {
  createSession as createCoreSession,
  type LimitOption,
  readLastEventId,
  type Session,
  type SessionOptions,
  SSE_HEADERS,
} from '@sse/core'

export type { Session, SessionOptions } from '@sse/core'

/** A request from `http`, `https` or `http2` (compat API). */
export type NodeRequest = IncomingMessage | Http2ServerRequest
/** A response from `http`, `https` or `http2` (compat API). */
export type NodeResponse = ServerResponse | Http2ServerResponse

/** Options for {@link createSession}: the core session options plus the response head. */
export interface NodeSessionOptions extends SessionOptions {
  /** The response status. @defaultValue 200 */
  status?: number
  /** Extra headers. Headers already set on `res` (CORS middleware…) are kept too. */
  headers?: OutgoingHttpHeaders
  /**
   * Caps open streams, in total and per key (see `createConnectionLimiter`):
   * over the limit the client gets `429` with `Retry-After` and the returned
   * session is already closed. The key defaults to the client's IP address.
   */
  limit?: LimitOption<NodeRequest>
}

/**
 * Opens an event stream on a Node response and returns its session. Works on
 * `http`, `https` and `http2` (compat API, secure or h2c): `Connection:
 * keep-alive` is sent on HTTP/1.x only, as HTTP/2 forbids it.
 *
 * The session reads `Last-Event-ID` (or `?lastEventId=`) from the request,
 * and closes when the client disconnects.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { createSession } from '@sse/node-http'
 *
 * createServer((req, res) => {
 *   const session = createSession(req, res)
 *   session.send({ hello: 'world' })
 * }).listen(3000)
 * ```
 */
export function createSession(
  req: NodeRequest,
  res: NodeResponse,
  options: NodeSessionOptions = {},
): Session {
  const { status = 200, headers, limit, ...sessionOptions } = options
  // Both response kinds share these methods; their overloads differ, so
  // address them through the common ServerResponse shape.
  const out = res as ServerResponse
  const gone = new AbortController()
  let release: (() => void) | undefined
  if (limit !== undefined) {
    const key = limit.key === undefined ? req.socket.remoteAddress : limit.key(req)
    release = limit.limiter.acquire(key)
    if (release === undefined) {
      out.writeHead(429, {
        'content-type': 'text/plain; charset=utf-8',
        'retry-after': String(limit.limiter.retryAfter),
      })
      out.end('Too many open event streams\n')
      gone.abort()
    }
  }
  // `compression` and similar middleware buffer writes until flushed.
  const flush = (out as { flush?: () => void }).flush?.bind(out)

  // Touches the response only once the core has accepted the options: an
  // invalid option throws first, and the framework's error page goes out
  // without event-stream headers.
  let opened = false
  const open = (): void => {
    if (opened) return
    opened = true
    if (headers !== undefined) {
      for (const [name, value] of Object.entries(headers)) {
        if (value !== undefined) out.setHeader(name, value)
      }
    }
    for (const [name, value] of Object.entries(SSE_HEADERS)) out.setHeader(name, value)
    if (req.httpVersionMajor === 1) out.setHeader('connection', 'keep-alive')
    out.statusCode = status
    // No idle timeout on a stream meant to stay open; heartbeats keep proxies happy.
    req.setTimeout(0)
    if ('setNoDelay' in req.socket) req.socket.setNoDelay(true)
    out.once('close', () => gone.abort())
  }

  let session: Session
  try {
    session = createCoreSession(
      {
        write(chunk) {
          if (gone.signal.aborted) return false
          open()
          if (out.writableEnded || out.destroyed) return false
          const accepted = out.write(chunk)
          flush?.()
          return accepted
        },
        onDrain(listener) {
          out.once('drain', listener)
        },
        close() {
          release?.()
          if (!out.writableEnded) out.end()
        },
        signal: gone.signal,
      },
      {
        ...sessionOptions,
        lastEventId:
          sessionOptions.lastEventId ??
          readLastEventId(headerValue(req.headers['last-event-id']), req.url),
      },
    )
  } catch (error) {
    release?.()
    throw error
  }
  // Over the limit: the 429 is sent and the session was born closed.
  if (session.closed) return session
  open()
  // With no retry hint nothing was written yet: send the head now so the
  // client's `open` fires at once.
  if (!out.headersSent) out.flushHeaders()
  // A client that left before we got here never emits 'close' again.
  if (out.destroyed || out.writableFinished) gone.abort()
  return session
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
