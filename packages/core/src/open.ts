/**
 * The one opener: every policy of opening an event stream, written once for
 * every binding (the Web `Request`/`Response` one, node-http, and the
 * framework adapters on top of them). A binding only converts: it tells the
 * opener where the request's Last-Event-ID is, and how to send a head, a
 * refusal and bytes on its transport.
 *
 * Per request, in order:
 * 1. while the drainer (if any) drains, with `newStreams: 'refuse'` the
 *    answer is `503` with `Retry-After`; then the limiter (if any) reserves
 *    a slot, or the answer is `429` with `Retry-After`; either way nothing
 *    else happens: no session, no handler;
 * 2. the binding sends the head (the event-stream headers win over the
 *    route's own) and hands over its transport as a sink;
 * 3. the session opens with the request's Last-Event-ID (header, else
 *    `?lastEventId=`), and gives the slot back when it closes;
 * 4. the drainer tracks the session; while it drains (`newStreams:
 *    'close'`), the session is sent a `retry:` hint and closed at once;
 * 5. the handler runs with the session and the framework's context; if it
 *    throws or rejects, the session closes (`closeReason` `error`, the error
 *    in `closeCause`) and the error goes to `onError`, else to the binding's
 *    own error path.
 */

import type { Drainer } from './drain'
import { readLastEventId } from './last-event-id'
import type { LimitOption } from './limits'
import {
  type CloseHooks,
  kClose,
  kOnClose,
  openSession,
  type ResolvedSessionOptions,
  resolveSessionOptions,
  type Session,
  type SessionOptions,
  type SseSink,
} from './session'

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
export const SSE_HEADERS: Readonly<Record<string, string>> = /* @__PURE__ */ Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
})

/**
 * Headers a route cannot set on a stream: the event-stream ones (ours win)
 * and those that would break it. A `content-length` would end the stream at
 * that length; the hop-by-hop ones belong to the server (and are forbidden
 * on HTTP/2).
 */
const RESERVED = /* @__PURE__ */ new Set(
  /* @__PURE__ */ Object.keys(SSE_HEADERS).concat([
    'content-length',
    'connection',
    'keep-alive',
    'transfer-encoding',
    'upgrade',
  ]),
)

/** What a route's handler gets: the session, and the framework's own context. */
export type StreamHandler<Context> = (session: Session, context: Context) => unknown

/**
 * The options every binding's `sse(handler, options)` takes: the session's
 * options, the route's extra headers, the connection limit and where the
 * handler's errors go.
 */
export interface StreamOptions<Context> extends SessionOptions {
  /**
   * Extra response headers (CORS, custom). The event-stream headers always
   * win, and `content-length` and hop-by-hop headers are dropped; headers
   * that framework middleware set before the route are kept.
   */
  headers?: HeadersInit
  /**
   * Caps open streams (see `createConnectionLimiter`): over the limit the
   * answer is `429 Too Many Requests` with `Retry-After`, and the handler
   * does not run. The key is what `limit.key` returns; without `key` only the
   * total `max` applies (a limiter with `maxPerKey` then needs a `key`: there
   * is no default, as no key is right for every deployment, e.g. behind a
   * proxy every client has the proxy's IP).
   */
  limit?: LimitOption<Context>
  /**
   * Tracks this route's streams for a graceful shutdown (see
   * `createDrainer`); give every route of a server the same one.
   */
  drainer?: Drainer
  /**
   * Called when the handler throws or its promise rejects, after the session
   * was closed (its `closeReason` is `error`). The stream is already open, so
   * no error response is possible.
   *
   * @defaultValue the framework's own error path (see each binding)
   */
  onError?: (error: unknown, session: Session, context: Context) => void
  /**
   * Bytes a Web `Response` body buffers before the session treats the client
   * as full and starts queueing (the Web bindings; Node uses its socket's
   * buffer).
   *
   * @defaultValue 65_536
   */
  highWaterMark?: number
}

/** What a binding's transport is told when it opens. */
export interface TransportOptions {
  /** See {@link StreamOptions.highWaterMark}. */
  readonly highWaterMark: number
}

/** A header list, names lowercase, in the order they are to be sent. */
export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>

/**
 * {@link StreamOptions} checked once (a `TypeError` at the route's
 * definition, not at its first request), with the headers worked out.
 */
export interface StreamConfig<Context> extends TransportOptions {
  readonly session: ResolvedSessionOptions
  readonly lastEventId: string | undefined
  /** The stream's head: the route's headers, then the event-stream ones. */
  readonly headers: HeaderList
  /** The head of the 429 over the limit. */
  readonly refusalHeaders: HeaderList
  readonly limit: LimitOption<Context> | undefined
  readonly drainer: Drainer | undefined
  /** The head of the 503 while draining (`newStreams: 'refuse'`). */
  readonly drainingHeaders: HeaderList
  readonly onError: ((error: unknown, session: Session, context: Context) => void) | undefined
}

/**
 * A binding's conversion between its framework and the opener. Everything
 * here is transport; everything else is the opener's.
 */
export interface StreamBinding<Context, Result> {
  /** The raw `Last-Event-ID` header of the request, if it has one. */
  lastEventId(context: Context): string | null | undefined
  /** The request's URL (path and query suffice), for `?lastEventId=`. */
  url(context: Context): string | undefined
  /** Answers without a stream (status, head, a short text body). */
  refuse(context: Context, status: number, headers: HeaderList, body: string): Result
  /**
   * Starts the stream's response with `headers` (status 200) and returns the
   * transport as a sink, and what the framework's handler returns.
   */
  open(context: Context, headers: HeaderList, transport: TransportOptions): OpenedTransport<Result>
  /**
   * Where a handler's error goes without `onError` (or when `onError`
   * itself throws): the framework's error handling.
   */
  reportError(error: unknown, session: Session, context: Context): void
}

/** What {@link StreamBinding.open} returns. */
export interface OpenedTransport<Result> {
  sink: SseSink
  result: Result
  /**
   * Called once the session is open (its `retry:` hint written, if any),
   * before the handler runs: a transport that holds its head until the first
   * write sends it now, so the client sees the stream open at once.
   */
  started?: () => void
}

/** What {@link openStream} returns: the binding's result, and the session unless refused. */
export interface OpenedStream<Result> {
  result: Result
  session: Session | undefined
}

const REFUSAL_BODY = 'Too many open event streams\n'
const DRAINING_BODY = 'This server is shutting down: reconnect later\n'

/**
 * Checks a route's {@link StreamOptions} once and works out its headers.
 * Misuse is a `TypeError` here, at the call.
 */
export function resolveStreamOptions<Context>(
  options: StreamOptions<Context> = {},
): StreamConfig<Context> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('sse: `options` must be an object')
  }
  const { headers: extra, limit, drainer, onError, highWaterMark = 65_536, lastEventId } = options
  if (drainer !== undefined && typeof drainer?.track !== 'function') {
    throw new TypeError('sse: `drainer` must come from createDrainer()')
  }
  if (onError !== undefined && typeof onError !== 'function') {
    throw new TypeError('sse: `onError` must be a function (error, session, context) => void')
  }
  if (!(Number.isInteger(highWaterMark) && highWaterMark > 0)) {
    throw new TypeError('sse: `highWaterMark` must be a positive integer of bytes')
  }
  if (limit !== undefined) {
    if (
      typeof limit !== 'object' ||
      limit === null ||
      typeof limit.limiter?.acquire !== 'function'
    ) {
      throw new TypeError('sse: `limit` must be { limiter: createConnectionLimiter(…), key? }')
    }
    if (limit.key !== undefined && typeof limit.key !== 'function') {
      throw new TypeError('sse: `limit.key` must be a function (context) => string | undefined')
    }
    if (limit.key === undefined && Number.isFinite(limit.limiter.maxPerKey)) {
      throw new TypeError(
        'sse: the limiter has `maxPerKey` but `limit` has no `key`: say what to count per key (a user id, an IP)',
      )
    }
  }
  const own: Array<[string, string]> = []
  if (extra !== undefined) {
    const parsed = new Headers(extra)
    for (const [name, value] of parsed) {
      // Headers joins repeated set-cookie values with ", ", which breaks them.
      if (name === 'set-cookie' || RESERVED.has(name)) continue
      own.push([name, value])
    }
    for (const cookie of parsed.getSetCookie()) own.push(['set-cookie', cookie])
  }
  const headers: HeaderList = [...own, ...Object.entries(SSE_HEADERS)]
  const refusal = (retryAfter: number): HeaderList => [
    ...own,
    ['content-type', 'text/plain; charset=utf-8'],
    ['cache-control', 'no-store'],
    ['retry-after', String(retryAfter)],
  ]
  return {
    session: resolveSessionOptions(options),
    lastEventId,
    headers,
    refusalHeaders: refusal(limit?.limiter.retryAfter ?? 0),
    limit,
    drainer,
    drainingHeaders: refusal(drainer?.retryAfter ?? 0),
    onError,
    highWaterMark,
  }
}

/**
 * Opens one event stream through `binding` with every policy applied (see
 * the top of this file), and runs `handler` if one is given. Returns the
 * binding's result, and the session (`undefined` when the limiter refused).
 *
 * @example
 * ```ts
 * const config = resolveStreamOptions(options)
 * const listener = (req, res) => openStream(nodeBinding, { req, res }, config, handler)
 * ```
 */
export function openStream<Context, Result>(
  binding: StreamBinding<Context, Result>,
  context: Context,
  config: StreamConfig<Context>,
  handler?: StreamHandler<Context>,
): OpenedStream<Result> {
  const drainer = config.drainer
  if (drainer?.draining && drainer.newStreams === 'refuse') {
    const result = binding.refuse(context, 503, config.drainingHeaders, DRAINING_BODY)
    return { result, session: undefined }
  }
  let release: (() => void) | undefined
  const limit = config.limit
  if (limit !== undefined) {
    release = limit.limiter.acquire(limit.key?.(context))
    if (release === undefined) {
      const result = binding.refuse(context, 429, config.refusalHeaders, REFUSAL_BODY)
      return { result, session: undefined }
    }
  }
  let opened: OpenedTransport<Result>
  let session: Session
  try {
    opened = binding.open(context, config.headers, config)
    session = openSession(
      opened.sink,
      config.session,
      config.lastEventId ?? readLastEventId(binding.lastEventId(context), binding.url(context)),
    )
  } catch (error) {
    release?.()
    throw error
  }
  if (release !== undefined) (session as Session & Closable)[kOnClose](release)
  opened.started?.()
  if (drainer !== undefined) {
    const draining = drainer.draining
    drainer.track(session)
    // Draining: it got its `retry:` hint and is closed; the handler never runs.
    if (draining) return { result: opened.result, session }
  }
  if (handler !== undefined) run(binding, context, config, handler, session)
  return { result: opened.result, session }
}

interface Closable extends CloseHooks {
  [kClose](reason: 'error', cause: unknown): void
}

function run<Context, Result>(
  binding: StreamBinding<Context, Result>,
  context: Context,
  config: StreamConfig<Context>,
  handler: StreamHandler<Context>,
  session: Session,
): void {
  const fail = (error: unknown): void => {
    ;(session as Session & Closable)[kClose]('error', error)
    const onError = config.onError
    if (onError === undefined) {
      binding.reportError(error, session, context)
      return
    }
    try {
      onError(error, session, context)
    } catch (thrown) {
      // An onError that throws is a bug of its own: the framework hears of it.
      binding.reportError(thrown, session, context)
    }
  }
  let returned: unknown
  try {
    returned = handler(session, context)
  } catch (error) {
    fail(error)
    return
  }
  if (typeof (returned as PromiseLike<unknown> | null)?.then === 'function') {
    // A reportError that rethrows leaves this promise rejected and unhandled:
    // the runtime's policy applies, as it would without us.
    Promise.resolve(returned).then(undefined, fail)
  }
}

/**
 * A binding's `sse(handler, options)` in one line: checks `handler` and
 * `options` once, and returns the per-request function that opens a stream
 * for a framework context and returns what the framework expects.
 *
 * @example
 * ```ts
 * export const sse = <C>(handler: StreamHandler<C>, options?: StreamOptions<C>) =>
 *   createStreamHandler(myBinding, handler, options)
 * ```
 */
export function createStreamHandler<Context, Result>(
  binding: StreamBinding<Context, Result>,
  handler: StreamHandler<Context>,
  options?: StreamOptions<Context>,
): (context: Context) => Result {
  if (typeof handler !== 'function') {
    throw new TypeError('sse: `handler` must be a function (session, context) => unknown')
  }
  const config = resolveStreamOptions(options)
  return (context) => openStream(binding, context, config, handler).result
}
