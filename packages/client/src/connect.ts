// The reconnect orchestration: one request after another, each response
// classified (response.ts), events parsed and dispatched to listeners
// (listeners.ts) and loops (iterators.ts). Comments quote the steps of the
// WHATWG processing model they implement.
import { createParser, type EventMap, type ParsedEvent, SseError } from '@sse/core'
import { createFacade } from './facade'
import { reportError } from './listeners'
import { pageToWatch } from './page'
import { classifyResponse, connectionError } from './response'
import { backoffDelay } from './retry'
import { typingOf } from './typed'
import {
  CLOSED,
  type ClientOptions,
  CONNECTING,
  type EventStream,
  OPEN,
  type ReadyState,
  type StreamError,
  type TypedOptions,
} from './types'

/** A stream's URL, or a function called before every attempt for it. */
type StreamUrl = string | URL | (() => string | URL | Promise<string | URL>)

/** How an attempt ended, when the stream goes on. */
type Outcome = { error: StreamError; retryAfter?: number | undefined; ended?: boolean }

/** The attempt was cut (or not made) because the page is hidden. */
const PAUSED = Symbol('paused')

const UNSAFE_ID = /[\r\n\0]/

/**
 * What `connectShared`'s holding tab relays, in the order the stream gives
 * it: each event as it is dispatched, then (after the chunk that held it) a
 * last event ID that no relayed event carried (an id-only frame, an event a
 * typed stream rejected), and the stop of a stream that stops for good.
 */
export interface Tap {
  event(event: ParsedEvent): void
  id(lastEventId: string): void
  stop(error: StreamError | undefined, failed: boolean): void
}

/** Internal option (for `connectShared`): a {@link Tap}. */
export const kTap: unique symbol = Symbol('sse.tap')

/**
 * A typed stream (see {@link TypedOptions}): each event's JSON data in
 * `value`, its `type` narrowing it, checked by its schema if it has one.
 *
 * @example
 * ```ts
 * const stream = connect<Events>('/prices', { json: true, schemas: { price: Price } })
 * for await (const event of stream) if (event.type === 'price') show(event.value.usd)
 * ```
 */
export function connect<E extends EventMap>(
  url: StreamUrl,
  options: ClientOptions & TypedOptions<E>,
): EventStream<E>
/**
 * Opens a Server-Sent Events stream with `fetch`: any method and body,
 * headers, credentials, `Last-Event-ID` resume, exponential backoff with full
 * jitter, typed errors, and async iteration.
 *
 * Reconnection follows `EventSource`: a stream that ends or fails is reopened
 * after a delay and `error` is reported with `readyState` {@link CONNECTING}.
 * The delay is random up to a window that starts at the reconnection time
 * (`retry`, or the server's `retry:` field), doubles per consecutive failure up
 * to `maxRetry`, and resets once a response is accepted; a `Retry-After`
 * header is waited out in full. A 204, any other status but 200 (4xx, 205,
 * 299…), or a `Content-Type` other than `text/event-stream` stops the stream
 * for good with one error and no retry; so do 408, 429 and 5xx with
 * `retryServerErrors: false` (by default they are retried: our one
 * departure from the spec).
 *
 * @example
 * ```ts
 * const stream = connect('/api/chat', {
 *   method: 'POST',
 *   headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
 *   body: JSON.stringify({ prompt }),
 * })
 * stream.addEventListener('error', (error) => showOffline(error.status, error.message))
 * for await (const event of stream) {
 *   if (event.type === 'done') break // also closes the stream
 *   output.textContent += event.data
 * }
 * ```
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#sse-processing-model
 */
export function connect(url: StreamUrl, options?: ClientOptions): EventStream
export function connect(
  url: StreamUrl,
  options: ClientOptions & Partial<TypedOptions<EventMap>> = {},
): EventStream {
  // A function URL is called before every attempt; `href` is the latest.
  let href = typeof url === 'function' ? '' : resolveUrl(url)
  const method = options.method ?? 'GET'
  const body = options.body ?? null
  if (body !== null) {
    const upper = method.toUpperCase()
    if (upper === 'GET' || upper === 'HEAD')
      throw new TypeError(`connect: a ${upper} request cannot have a body; use method: 'POST'`)
    if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream)
      throw new TypeError(
        'connect: `body` is re-sent on every reconnect, so it cannot be a ReadableStream; pass a string, Blob, FormData, URLSearchParams or ArrayBuffer',
      )
  }
  let retry = checkDelay('retry', options.retry, 1000)
  const maxRetry = checkDelay('maxRetry', options.maxRetry, 30_000)
  const reconnect = options.reconnect ?? true
  const retryServerErrors = options.retryServerErrors ?? true
  const fetchImpl = options.fetch ?? globalThis.fetch
  if (typeof fetchImpl !== 'function')
    throw new TypeError('connect: no global fetch here; pass one as `options.fetch`')
  const initialId = options.lastEventId ?? ''
  if (UNSAFE_ID.test(initialId))
    throw new TypeError('connect: `lastEventId` cannot contain CR, LF or NUL')
  // Fail on malformed headers now, not as a retried network error later.
  const headersOption = options.headers
  if (typeof headersOption !== 'function') new Headers(headersOption)
  const onUnauthorized = options.onUnauthorized
  if (onUnauthorized !== undefined && typeof onUnauthorized !== 'function')
    throw new TypeError('connect: `onUnauthorized` must be a function')
  const signal = options.signal
  const typing = typingOf(options)
  const tap = (options as { [kTap]?: Tap })[kTap]
  // The last event ID the tap has, by an event or by `id`.
  let tappedId = initialId
  const page = pageToWatch(options.hidden, 'connect')

  let readyState: ReadyState = CONNECTING
  let closed = false
  // The error that stopped the stream, for async iterators to throw.
  let failure: StreamError | undefined
  // Consecutive attempts that did not end in an accepted response.
  let failures = 0
  // The request in flight and its body, to cut both on close().
  let controller: AbortController | undefined
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  // The wait before the next attempt, to end it on close().
  let timer: ReturnType<typeof setTimeout> | undefined
  let wake: (() => void) | undefined
  // `hidden: 'close'`: whether the page is hidden, and the wait for it to show.
  let hidden = page?.visibilityState === 'hidden'
  let shown: (() => void) | undefined
  // The request a hidden page cut: its end is a pause, not a failure.
  let cut: AbortController | undefined

  const parser = createParser({
    onEvent: dispatchEvent,
    // "If the field value consists of only ASCII digits, then interpret the
    // field value as an integer in base ten, and set the event stream's
    // reconnection time to that integer."
    onRetry: (ms) => {
      retry = ms
    },
    onError: (error) => emitError(error),
  })
  // The parser has no way to start from a given id, but an `id:` line and a
  // blank line set it exactly as a stream would; reset() before each request
  // then keeps it, as it keeps every received id.
  if (initialId !== '') parser.feed(`id: ${initialId}\n\n`)

  const facade = createFacade(
    {
      readyState: () => readyState,
      lastEventId: () => parser.lastEventId,
      url: () => href,
      failure: () => failure,
    },
    shutdown,
  )
  const stream = facade.stream

  if (signal?.aborted) {
    closed = true
    readyState = CLOSED
  } else {
    signal?.addEventListener('abort', shutdown, { once: true })
    page?.addEventListener('visibilitychange', onVisibility)
    run().then(undefined, (cause: unknown) =>
      stop(connectionError('The event stream failed unexpectedly', undefined, cause), true),
    )
  }
  return stream

  async function run(): Promise<void> {
    while (!closed) {
      if (hidden) {
        await new Promise<void>((resolve) => {
          shown = resolve
        })
        continue
      }
      const outcome = await attempt()
      if (outcome === undefined || closed) return
      // Hidden meanwhile: no error, no backoff; the loop waits to be shown.
      if (outcome === PAUSED) continue
      if (!reconnect) {
        // A clean end is the stream finishing; anything else is a failure.
        if (outcome.ended) stop(undefined, false)
        else stop(outcome.error, true)
        return
      }
      // "Reestablish the connection": set readyState to CONNECTING, fire
      // `error`, wait the reconnection time (here with backoff and jitter,
      // and never less than a Retry-After), then fetch again.
      const delay = Math.max(backoffDelay(retry, maxRetry, failures), outcome.retryAfter ?? 0)
      failures++
      readyState = CONNECTING
      emitError(outcome.error)
      if (closed) return
      await new Promise<void>((resolve) => {
        wake = resolve
        timer = setTimeout(() => {
          timer = undefined
          wake = undefined
          resolve()
        }, delay)
      })
    }
  }

  /** One request; `undefined` when the stream stopped (or was closed) meanwhile. */
  async function attempt(): Promise<Outcome | typeof PAUSED | undefined> {
    parser.reset()
    const own = new AbortController()
    controller = own
    let headers: Headers
    try {
      if (typeof url === 'function') href = resolveUrl(await url())
      headers = new Headers(
        typeof headersOption === 'function' ? await headersOption() : headersOption,
      )
    } catch (cause) {
      if (closed) return undefined
      return {
        error: connectionError('Could not prepare the request (url or headers)', undefined, cause),
      }
    }
    if (closed) return undefined
    // "Set (`Accept`, `text/event-stream`) in request's header list"; "if the
    // event source's last event ID string is not the empty string, set
    // (`Last-Event-ID`, last event ID string, encoded as UTF-8)".
    if (!headers.has('accept')) headers.set('accept', 'text/event-stream')
    const id = parser.lastEventId
    if (id !== '') headers.set('last-event-id', utf8ByteString(id))
    // "Set request's cache mode to `no-store`": a stream must never come
    // from (or go into) an HTTP cache.
    const init: RequestInit = { method, headers, signal: own.signal, cache: 'no-store' }
    if (body !== null) init.body = body
    if (options.credentials !== undefined) init.credentials = options.credentials

    let response: Response
    try {
      response = await fetchImpl(href, init)
    } catch (cause) {
      // "If res is a network error, then reestablish the connection."
      if (closed) return undefined
      if (cut === own) return PAUSED
      return { error: connectionError(`Could not connect to ${href}`, undefined, cause) }
    }
    if (closed) {
      discard(response)
      return undefined
    }

    const verdict = classifyResponse(href, response, retryServerErrors)
    if (verdict.kind !== 'stream') {
      discard(response)
      switch (verdict.kind) {
        case 'done':
          // Not a failure, so async iteration ends normally, but reported
          // like EventSource does.
          stop(verdict.error, false)
          return undefined
        case 'retry':
          return { error: verdict.error, retryAfter: verdict.retryAfter }
        case 'unauthorized':
          if (onUnauthorized !== undefined) {
            // Only `true` retries; a callback that throws is reported and stops.
            let again: unknown
            try {
              again = await onUnauthorized(verdict.error)
            } catch (cause) {
              reportError(cause)
            }
            if (closed) return undefined
            if (again === true) return { error: verdict.error }
          }
          stop(verdict.error, true)
          return undefined
        default:
          // "Fail the connection": readyState CLOSED, fire `error`, no retry.
          stop(verdict.error, true)
          return undefined
      }
    }

    // "Announce the connection": readyState OPEN, fire `open`.
    readyState = OPEN
    failures = 0
    facade.opened()
    if (closed) {
      discard(response)
      return undefined
    }

    const ended: Outcome = {
      error: connectionError(`The event stream from ${href} ended`, response.status),
      ended: true,
    }
    if (response.body === null) return ended
    const bodyReader = response.body.getReader()
    reader = bodyReader
    try {
      for (;;) {
        const room = facade.room()
        if (room !== undefined) {
          await room
          if (closed) return undefined
        }
        const { done, value } = await bodyReader.read()
        if (closed) return undefined
        if (cut === own) return PAUSED
        // "When the body ends, … reestablish the connection."
        if (done) return ended
        // Listener errors never reach here (see invoke), so a throw is the parser's.
        parser.feed(value)
        // After the chunk's events: relayed before them, the id would reach
        // a tab that takes over before they do, and it would resume past them.
        if (tap !== undefined && parser.lastEventId !== tappedId && !closed) {
          tappedId = parser.lastEventId
          tap.id(tappedId)
        }
      }
    } catch (cause) {
      if (closed) return undefined
      if (cut === own) return PAUSED
      return {
        error: connectionError(`The event stream from ${href} failed`, response.status, cause),
      }
    } finally {
      if (reader === bodyReader) reader = undefined
      own.abort()
      if (controller === own) controller = undefined
    }
  }

  /** `hidden: 'close'`: cut the connection when hidden, reconnect when shown. */
  function onVisibility(): void {
    if (closed || page === undefined) return
    if (page.visibilityState === 'hidden') {
      if (hidden) return
      hidden = true
      readyState = CONNECTING
      cut = controller
      controller?.abort()
      reader?.cancel().then(undefined, ignore)
      return
    }
    if (!hidden) return
    hidden = false
    const resolve = shown
    shown = undefined
    resolve?.()
  }

  /** "Dispatch the event": loops get every event; listeners those of their type. */
  function dispatchEvent(event: ParsedEvent): void {
    if (closed) return
    const typed = typing === undefined ? event : typing(event)
    // Not delivered, reported; the stream goes on.
    if (typed instanceof SseError) {
      emitError(typed)
      return
    }
    if (tap !== undefined) {
      tappedId = typed.lastEventId
      tap.event(typed)
    }
    facade.dispatch(typed)
  }

  function emitError(error: StreamError): void {
    facade.failed(error)
  }

  /** Stops for good, then reports `error` (if any) with readyState CLOSED. */
  function stop(error: StreamError | undefined, iteratorsThrow: boolean): void {
    if (closed) return
    if (iteratorsThrow) failure = error
    shutdown()
    tap?.stop(error, iteratorsThrow)
    if (error !== undefined) emitError(error)
  }

  function shutdown(): void {
    if (closed) return
    closed = true
    readyState = CLOSED
    signal?.removeEventListener('abort', shutdown)
    page?.removeEventListener('visibilitychange', onVisibility)
    shown?.()
    shown = undefined
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    wake?.()
    wake = undefined
    controller?.abort()
    controller = undefined
    // A custom fetch may ignore the signal; cancelling the reader still
    // releases the connection.
    reader?.cancel().then(undefined, ignore)
    reader = undefined
    facade.end()
  }
}

function resolveUrl(url: string | URL): string {
  const base = (globalThis as { location?: { href?: string } }).location?.href
  try {
    return new URL(url, base).href
  } catch {
    // No base to resolve a relative URL against (Node): a custom fetch may
    // still know what to do with it.
    return String(url)
  }
}

function checkDelay(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value))
    throw new TypeError(`connect: \`${name}\` must be a finite number of milliseconds >= 0`)
  return value
}

const textEncoder = /* @__PURE__ */ new TextEncoder()

/**
 * A header value must be a ByteString. Browsers send the id's UTF-8 bytes,
 * so do the same: one char per byte (`readLastEventId` in `@sse/core`
 * decodes them back). ASCII ids, the common case, pass through as they are.
 */
function utf8ByteString(id: string): string {
  let ascii = true
  for (let i = 0; i < id.length && ascii; i++) ascii = id.charCodeAt(i) < 0x80
  if (ascii) return id
  let bytes = ''
  for (const byte of textEncoder.encode(id)) bytes += String.fromCharCode(byte)
  return bytes
}

/** Frees the connection of a response we will not read. */
function discard(response: Response): void {
  response.body?.cancel().then(undefined, ignore)
}

function ignore(_reason: unknown): void {
  // Cancelling a body we gave up on can only fail because it already failed
  // or was aborted; nobody is waiting for that outcome.
}
