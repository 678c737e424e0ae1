import { type IncomingMessage, type OutgoingHttpHeaders, ServerResponse } from 'node:http'
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
  // Set when the limiter refused the stream: the 429 is sent, the session is born closed.
  let refused = false
  let release: (() => void) | undefined
  if (limit !== undefined) {
    const key = limit.key === undefined ? req.socket.remoteAddress : limit.key(req)
    release = limit.limiter.acquire(key)
    if (release === undefined) {
      refused = true
      out.writeHead(429, {
        'content-type': 'text/plain; charset=utf-8',
        'retry-after': String(limit.limiter.retryAfter),
      })
      out.end('Too many open event streams\n')
    }
  }
  // `compression` and similar middleware buffer writes until flushed.
  const flush = (out as { flush?: () => void }).flush?.bind(out)
  // Decided once, after the first write put the head on the wire: the socket
  // when frames can skip ServerResponse, else null.
  let socket: RawSocket | null | undefined

  // Touches the response only once the core has accepted the options: an
  // invalid option throws first, and the framework's error page goes out
  // without event-stream headers.
  let opened = false
  const open = (): void => {
    if (opened) return
    opened = true
    const head: OutgoingHttpHeaders = { ...SSE_HEADERS }
    if (req.httpVersionMajor === 1) head.connection = 'keep-alive'
    if (headers !== undefined) {
      for (const [name, value] of Object.entries(headers)) {
        if (value !== undefined && !(name.toLowerCase() in SSE_HEADERS)) head[name] = value
      }
    }
    if (out.getHeaderNames().length === 0) {
      // One call, no per-response header dictionary kept alive: it adds up
      // over thousands of idle streams.
      out.writeHead(status, head)
    } else {
      // Keep what earlier middleware (CORS…) set, ours on top.
      for (const [name, value] of Object.entries(head)) out.setHeader(name, value!)
      out.statusCode = status
    }
    // No idle timeout on a stream meant to stay open; heartbeats keep proxies happy.
    req.setTimeout(0)
    if ('setNoDelay' in req.socket) req.socket.setNoDelay(true)
  }

  let session: Session
  try {
    session = createCoreSession(
      {
        write(chunk) {
          if (refused) return false
          if (socket) return socket.write(chunked(chunk))
          open()
          if (out.writableEnded || out.destroyed) return false
          const accepted = out.write(chunk)
          flush?.()
          if (socket === undefined) socket = rawSocket(req, out)
          return accepted
        },
        onDrain(listener) {
          if (socket) socket.once('drain', listener)
          else out.once('drain', listener)
        },
        close() {
          release?.()
          if (!out.writableEnded) out.end()
        },
        onClientGone(listener) {
          if (refused || out.destroyed || out.writableFinished) listener()
          else out.once('close', listener)
        },
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
  if (session.closed) return session
  open()
  // With no retry hint nothing was written yet: send the head now so the
  // client's `open` fires at once (writeHead alone only stores it).
  if (socket === undefined && !out.writableEnded) out.flushHeaders()
  return session
}

interface RawSocket {
  write(chunk: Uint8Array): boolean
  once(event: 'drain', listener: () => void): unknown
}

/**
 * The socket itself, when frames may bypass `ServerResponse.write`: an
 * HTTP/1.1 chunked response whose head is already sent, that nothing has
 * wrapped (compression middleware replaces `write`), owning its socket.
 * `res.write` costs a cork, a nextTick, a four-piece writev and a Buffer copy
 * per response; a broadcast to 10,000 streams pays that 10,000 times.
 * `res.end()` still writes the terminating chunk through the response, after
 * everything we wrote, because both go through the same socket in order.
 */
function rawSocket(req: NodeRequest, out: ServerResponse): RawSocket | null {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return null
  if (out.write !== ServerResponse.prototype.write) return null
  const socket = out.socket
  if (socket === null || socket.destroyed) return null
  const state = out as ServerResponse & { chunkedEncoding?: boolean }
  // Bytes the response still holds itself (not yet handed to the socket)
  // would be overtaken by direct socket writes.
  const ownBuffered = out.writableLength - socket.writableLength
  if (state.chunkedEncoding !== true || !out.headersSent || ownBuffered !== 0) return null
  return socket
}

// One-entry cache: a broadcast hands the same frame to every session, so it
// is framed once, not once per connection. A Buffer, not a plain Uint8Array:
// net.Socket wraps every non-Buffer chunk in a new Buffer, once per socket.
let lastFrame: Uint8Array | undefined
let lastChunk: Buffer | undefined

/** `frame` as one HTTP/1.1 chunk: size in hex, CRLF, the bytes, CRLF. */
function chunked(frame: Uint8Array): Buffer {
  if (frame === lastFrame) return lastChunk!
  const size = frame.byteLength.toString(16)
  const chunk = Buffer.allocUnsafe(size.length + frame.byteLength + 4)
  // Buffer#write returns the byte count, not the next offset.
  chunk.write(size, 0, 'latin1')
  chunk.write('\r\n', size.length, 'latin1')
  chunk.set(frame, size.length + 2)
  chunk.write('\r\n', size.length + 2 + frame.byteLength, 'latin1')
  lastFrame = frame
  lastChunk = chunk
  return chunk
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
