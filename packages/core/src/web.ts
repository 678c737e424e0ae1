import type { LimitOption } from './limits'
import { createSession, type Session, type SessionOptions, type SseSink } from './session'

/**
 * The headers of every event stream: the media type, no caching or
 * transforming by intermediaries (a compressing proxy would hold events back),
 * and no buffering by nginx.
 *
 * `Connection` and `Transfer-Encoding` are deliberately absent: they are
 * hop-by-hop, forbidden on HTTP/2, and HTTP/1.1 servers set them themselves.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#text/event-stream
 */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
})

/**
 * The longest Last-Event-ID accepted. Longer values are ignored, so a client
 * cannot make the server look up or log arbitrary amounts of text.
 */
export const MAX_LAST_EVENT_ID_LENGTH = 1024

/**
 * The client's Last-Event-ID: the `Last-Event-ID` header, else the
 * `lastEventId` query parameter (for EventSource polyfills that cannot set
 * headers). The header's UTF-8 bytes are decoded, so a non-ASCII id sent by
 * a browser (or `@sse/client`) round-trips. A value that is too long, is not
 * UTF-8, or contains control characters is ignored (`undefined`), never an
 * error.
 *
 * @example
 * ```ts
 * readLastEventId(request.headers.get('last-event-id'), request.url)
 * ```
 */
export function readLastEventId(
  header: string | null | undefined,
  url?: string | URL | null,
): string | undefined {
  if (header !== null && header !== undefined) {
    // Bounded before decoding: the decoded id is never longer than its bytes.
    if (header.length > MAX_LAST_EVENT_ID_LENGTH * 4) return undefined
    const decoded = fromUtf8Bytes(header)
    return decoded === undefined ? undefined : validLastEventId(decoded)
  }
  if (url === undefined || url === null) return undefined
  let query: string | null
  try {
    query = (typeof url === 'string' ? new URL(url, 'http://localhost') : url).searchParams.get(
      'lastEventId',
    )
  } catch {
    // An unparsable URL carries no usable id; ignoring it is the spec'd outcome.
    return undefined
  }
  return query === null ? undefined : validLastEventId(query)
}

function validLastEventId(value: string): string | undefined {
  if (value.length === 0 || value.length > MAX_LAST_EVENT_ID_LENGTH) return undefined
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    // C0 controls (CR, LF, NUL…), DEL, and U+FFFD from undecodable bytes.
    if (c < 0x20 || c === 0x7f || c === 0xfffd) return undefined
  }
  return value
}

const utf8 = /* @__PURE__ */ new TextDecoder('utf-8', { fatal: true })

/**
 * Header values arrive as one char per byte (Node's parser, and `Headers` on
 * every Web runtime), while clients send the id's UTF-8 bytes (the spec's
 * "encoded as UTF-8"). Decodes them back; undefined for bytes that are not
 * UTF-8. A value with a char above U+00FF was decoded already and is kept.
 */
function fromUtf8Bytes(value: string): string | undefined {
  let high = false
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c > 0xff) return value
    if (c >= 0x80) high = true
  }
  if (!high) return value
  const bytes = new Uint8Array(value.length)
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i)
  try {
    return utf8.decode(bytes)
  } catch {
    // Not UTF-8: no id a spec client could have sent; ignored like any other invalid one.
    return undefined
  }
}

/** Options for {@link createResponse}. */
export interface ResponseOptions extends SessionOptions {
  /** The response status. @defaultValue 200 */
  status?: number
  /** Extra headers (CORS, custom). They cannot replace the event-stream headers. */
  headers?: HeadersInit
  /**
   * Bytes the response body may buffer before the session treats the client
   * as full and starts queueing.
   *
   * @defaultValue 65_536
   */
  highWaterMark?: number
  /**
   * Caps open streams (see {@link createConnectionLimiter}): over the limit the
   * answer is `429` with `Retry-After` and the handler is not called.
   */
  limit?: LimitOption<Request>
  /**
   * Called when the handler throws or its promise rejects; the session is
   * closed first (its client sees the stream end). Without it, a synchronous
   * throw propagates from `createResponse` to the framework (which answers
   * with its error response) and a rejection is left unhandled (the
   * runtime's own policy applies): never silently swallowed.
   */
  onError?: (error: unknown) => void
}

/**
 * Answers a Web `Request` with an event stream: the binding for Hono,
 * Next.js route handlers, Bun, Deno and Workers. The handler gets the session
 * and may return at once; the stream stays open until `session.close()` or
 * the client disconnects (`request.signal` or the body being cancelled).
 *
 * @example
 * ```ts
 * export function GET(request: Request) {
 *   return createResponse(request, (session) => {
 *     const timer = setInterval(() => session.send({ now: Date.now() }), 1000)
 *     session.signal.addEventListener('abort', () => clearInterval(timer))
 *   })
 * }
 * ```
 */
export function createResponse(
  request: Request,
  handler: (session: Session) => unknown,
  options: ResponseOptions = {},
): Response {
  let release: (() => void) | undefined
  if (options.limit !== undefined) {
    const { limiter, key } = options.limit
    release = limiter.acquire(key?.(request))
    if (release === undefined) {
      return new Response('Too many open event streams\n', {
        status: 429,
        headers: {
          'content-type': 'text/plain; charset=utf-8',
          'retry-after': String(limiter.retryAfter),
        },
      })
    }
  }
  const disconnect = new AbortController()
  const onRequestAbort = (): void => disconnect.abort()
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let drainListener: (() => void) | undefined
  let ended = false

  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c
      },
      pull() {
        const listener = drainListener
        drainListener = undefined
        listener?.()
      },
      cancel() {
        ended = true
        disconnect.abort()
      },
    },
    {
      highWaterMark: options.highWaterMark ?? 65_536,
      size: (chunk) => chunk.byteLength,
    },
  )

  const sink: SseSink = {
    write(chunk) {
      if (ended) return false
      controller.enqueue(chunk)
      return (controller.desiredSize ?? 0) > 0
    },
    onDrain(listener) {
      drainListener = listener
    },
    close() {
      release?.()
      request.signal.removeEventListener('abort', onRequestAbort)
      if (ended) return
      ended = true
      controller.close()
    },
    signal: disconnect.signal,
  }

  if (request.signal.aborted) disconnect.abort()
  else request.signal.addEventListener('abort', onRequestAbort, { once: true })

  let session: Session
  try {
    session = createSession(sink, {
      ...options,
      lastEventId:
        options.lastEventId ?? readLastEventId(request.headers.get('last-event-id'), request.url),
    })
  } catch (error) {
    release?.()
    throw error
  }

  const headers = new Headers(options.headers)
  for (const [key, value] of Object.entries(SSE_HEADERS)) headers.set(key, value)
  const response = new Response(body, { status: options.status ?? 200, headers })

  const onError = options.onError
  let result: unknown
  try {
    result = handler(session)
  } catch (error) {
    session.close()
    // With onError, a throw is routed like a rejection, and the (ended)
    // stream is the answer. Without it, thrown before the Response exists:
    // the framework answers with its error handling (a 500).
    if (onError === undefined) throw error
    onError(error)
    return response
  }
  if (result instanceof Promise) {
    result.catch((error: unknown) => {
      session.close()
      // Without onError the rejection stays unhandled, as it would without
      // us: never silently swallowed.
      if (onError === undefined) throw error
      onError(error)
    })
  }
  return response
}
