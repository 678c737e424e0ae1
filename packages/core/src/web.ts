import {
  createStreamHandler,
  type HeaderList,
  type OpenedTransport,
  openStream,
  resolveStreamOptions,
  type StreamBinding,
  type StreamHandler,
  type StreamOptions,
  type TransportOptions,
} from './open'
import type { SseSink } from './session'

/** Options for the Web binding ({@link sse}, {@link createResponse}). */
export type ResponseOptions = StreamOptions<Request>

/**
 * The Web binding: `Request` in, streaming `Response` out. Hono's adapter
 * and other Web frameworks build on it.
 */
export const webBinding: StreamBinding<Request, Response> = {
  lastEventId: (request) => request.headers.get('last-event-id'),
  url: (request) => request.url,
  refuse: (_request, status, headers, body) =>
    new Response(body, { status, headers: headers as Array<[string, string]> }),
  open: (request, headers, transport) => openResponse(request, headers, transport),
  reportError(error) {
    // Rethrown: for a synchronous throw the framework answers with its error
    // response; a rejection is left unhandled for the runtime to report.
    throw error
  },
}

/**
 * A Web handler, `(request) => Response`, that answers with an event stream
 * and runs `handler(session, request)`: for Next.js route handlers, Bun,
 * Deno and Workers. The handler may return at once; the stream stays open
 * until `session.close()` or the client disconnects (`request.signal`, or
 * the body being cancelled).
 *
 * Errors: a handler that throws or rejects closes the session and goes to
 * `onError`; without it, a throw propagates to the caller (your framework
 * answers with its error response) and a rejection is left unhandled for the
 * runtime to report, never silently swallowed.
 *
 * @defaultValue `options` is `{}`
 * @example
 * ```ts
 * export const GET = sse((session, request) => {
 *   session.send({ hello: new URL(request.url).searchParams.get('name') })
 * })
 * ```
 */
export function sse(
  handler: StreamHandler<Request>,
  options?: ResponseOptions,
): (request: Request) => Response {
  return createStreamHandler(webBinding, handler, options)
}

/**
 * Answers one `Request` with an event stream: {@link sse} for code that
 * has the request in hand (a Workers `fetch(request, env)` that needs `env`
 * in its handler, a Next.js route that reads its `params`). Its options are
 * checked on every call; prefer `sse()` for a fixed route.
 *
 * @example
 * ```ts
 * export default {
 *   fetch: (request: Request, env: Env) =>
 *     createResponse(request, (session) => session.send({ region: env.REGION })),
 * }
 * ```
 */
export function createResponse(
  request: Request,
  handler: StreamHandler<Request>,
  options?: ResponseOptions,
): Response {
  return openStream(webBinding, request, resolveStreamOptions(options), handler).result
}

/**
 * Internal: the Web binding's `open`, for adapters. `watchClientGone`, when
 * given, tells that the client left in place of `request.signal`: for an
 * adapter that sees its server's own connection (Hono on
 * `@hono/node-server`, where reading `request.signal` makes the server build
 * a whole `Request` per stream, ~3 kB of heap). The body being cancelled
 * counts either way.
 */
export function openResponse(
  request: Request,
  headers: HeaderList,
  transport: TransportOptions,
  watchClientGone?: (listener: () => void) => void,
): OpenedTransport<Response> {
  return responseStream(request, headers, transport.highWaterMark, watchClientGone)
}

/**
 * A `Response` whose body is the stream, and the sink writing to it. Frames
 * written while the body's reader is busy wait here, up to `highWaterMark`
 * bytes before the session queues, and its next read takes them all as one
 * chunk. A server that writes one chunk per drain of its socket (Hono's
 * Node server does, and an HTTP/2 stream drains only on a later turn) then
 * moves everything written meanwhile, not one 16 kB buffer a turn; a reader
 * that is waiting gets each frame at once.
 */
function responseStream(
  request: Request,
  headers: HeaderList,
  highWaterMark: number,
  watchClientGone: ((listener: () => void) => void) | undefined,
): OpenedTransport<Response> {
  // The client left (the request aborted or the body was cancelled): told
  // once to the session's listener. A callback, not an AbortController of
  // our own: every AbortSignal is an EventTarget, and Node gives each one a
  // hidden class of its own, about a kilobyte per idle stream.
  let gone = false
  let goneListener: (() => void) | undefined
  const onGone = (): void => {
    if (gone) return
    gone = true
    const listener = goneListener
    goneListener = undefined
    listener?.()
  }
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let drainListener: (() => void) | undefined
  let ended = false
  // Frames the reader has not asked for yet, and whether it is asking now.
  // Text frames (a session's own sends) are encoded when read, all at once.
  let pending: (string | Uint8Array)[] = []
  // Bytes, or UTF-16 units for text: at most its UTF-8 length.
  let pendingBytes = 0
  let pendingAllText = true
  let reading = false

  const takePending = (): Uint8Array => {
    const chunk = pendingAllText ? textEncoder.encode(pending.join('')) : concat(pending)
    pending = []
    pendingBytes = 0
    pendingAllText = true
    return chunk
  }

  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c
      },
      // With a high-water mark of 0, called only while a read waits.
      pull() {
        if (pendingBytes === 0) {
          reading = true
          return
        }
        controller.enqueue(takePending())
        const listener = drainListener
        drainListener = undefined
        listener?.()
      },
      cancel() {
        ended = true
        pending = []
        pendingBytes = 0
        onGone()
      },
    },
    { highWaterMark: 0 },
  )

  const sink: SseSink = {
    write(chunk) {
      if (ended) return false
      if (reading) {
        reading = false
        controller.enqueue(typeof chunk === 'string' ? textEncoder.encode(chunk) : chunk)
        return true
      }
      pending.push(chunk)
      if (typeof chunk === 'string') pendingBytes += chunk.length
      else {
        pendingBytes += chunk.byteLength
        pendingAllText = false
      }
      return pendingBytes < highWaterMark
    },
    onDrain(listener) {
      drainListener = listener
    },
    close() {
      if (watchClientGone === undefined) request.signal.removeEventListener('abort', onGone)
      if (ended) return
      ended = true
      if (pendingBytes > 0) controller.enqueue(takePending())
      controller.close()
    },
    onClientGone(listener) {
      if (gone) listener()
      else goneListener = listener
    },
  }

  if (watchClientGone !== undefined) watchClientGone(onGone)
  else if (request.signal.aborted) gone = true
  else request.signal.addEventListener('abort', onGone, { once: true })

  const result = new Response(body, { status: 200, headers: headers as Array<[string, string]> })
  return { sink, result }
}

const textEncoder = /* @__PURE__ */ new TextEncoder()

function concat(frames: readonly (string | Uint8Array)[]): Uint8Array {
  if (frames.length === 1 && typeof frames[0] !== 'string') return frames[0]!
  const chunks = frames.map((frame) =>
    typeof frame === 'string' ? textEncoder.encode(frame) : frame,
  )
  let length = 0
  for (const chunk of chunks) length += chunk.byteLength
  const out = new Uint8Array(length)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}
