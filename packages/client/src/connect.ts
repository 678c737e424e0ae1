import { createParser, type ParsedEvent, SseError } from '@sse/core'
import { backoffDelay, parseRetryAfter } from './retry'

/**
 * `readyState` while connecting or waiting to reconnect.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#dom-eventsource-connecting
 */
export const CONNECTING = 0
/**
 * `readyState` while the stream is open and events arrive.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#dom-eventsource-open
 */
export const OPEN = 1
/**
 * `readyState` once the stream stopped for good: `close()`, an aborted
 * signal, or a response it does not retry.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#dom-eventsource-closed
 */
export const CLOSED = 2

/**
 * One of {@link CONNECTING}, {@link OPEN} or {@link CLOSED}, as on `EventSource`.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#dom-eventsource-readystate
 */
export type ReadyState = typeof CONNECTING | typeof OPEN | typeof CLOSED

/**
 * The error an {@link EventStream} reports: an `SseError` with code
 * `SSE_INVALID_RESPONSE` when a response was refused (4xx, 204, wrong
 * `Content-Type`; `status` says which), `SSE_CONNECTION` when the connection
 * failed or the stream broke or ended (the network error in `cause`), or
 * `SSE_MAX_SIZE_EXCEEDED` for an event the parser dropped.
 *
 * Whether the stream will try again is in `stream.readyState` when the error
 * is reported: {@link CONNECTING} means a reconnect is scheduled,
 * {@link CLOSED} means it gave up.
 *
 * @example
 * ```ts
 * stream.onerror = (error) => {
 *   if (stream.readyState === CLOSED && error.status === 401) signIn()
 * }
 * ```
 */
export type StreamError = SseError

/**
 * Options for {@link connect}: the request `fetch` makes, and the reconnection policy.
 *
 * @example
 * ```ts
 * connect('/api/chat', {
 *   method: 'POST',
 *   headers: { authorization: `Bearer ${token}` },
 *   body: JSON.stringify({ prompt }),
 *   retry: 500,
 *   maxRetry: 10_000,
 *   signal: AbortSignal.timeout(60_000),
 * })
 * ```
 */
export interface ClientOptions {
  /**
   * The request method; anything `fetch` accepts, so a `POST` with a prompt works.
   *
   * @defaultValue 'GET'
   */
  method?: string
  /**
   * The request body, sent again on every reconnect. A `ReadableStream` cannot
   * be sent twice and is refused; `GET` and `HEAD` take no body.
   *
   * @defaultValue null
   */
  body?: BodyInit | null
  /**
   * Request headers, e.g. `Authorization`. Read on every attempt: a function
   * (sync or async) is called before each one, so an expiring bearer token
   * is renewed on reconnect while the Last-Event-ID resume goes on; a
   * `Headers` object updated in place works too. A function that throws or
   * rejects fails that attempt like a network error (reported, then retried).
   * `Accept: text/event-stream` is added unless given.
   *
   * @example
   * ```ts
   * connect(url, { headers: async () => ({ authorization: `Bearer ${await getToken()}` }) })
   * ```
   */
  headers?: HeadersInit | (() => HeadersInit | Promise<HeadersInit>)
  /**
   * Called with the error of a 401 or 403 answer; resolve `true` to try again
   * (after refreshing credentials, which `headers` then picks up), anything
   * else to stop as for any other 4xx. Retries follow the usual backoff.
   * Without it, a 401 or 403 stops the stream.
   */
  onUnauthorized?: (error: SseError) => boolean | Promise<boolean>
  /** `fetch`'s credentials mode (`'include'` sends cookies cross-origin). */
  credentials?: RequestCredentials
  /** Aborting it closes the stream for good, like {@link EventStream.close}. */
  signal?: AbortSignal
  /**
   * The event ID to resume from: sent as `Last-Event-ID` on the first request
   * and on every reconnect until the server sends another `id:`.
   *
   * @defaultValue ''
   */
  lastEventId?: string
  /**
   * The initial reconnection time in ms; a `retry:` field from the server
   * replaces it. The first wait after a drop is a random time up to this.
   *
   * @defaultValue 1000
   * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#concept-event-stream-reconnection-time
   */
  retry?: number
  /**
   * The cap on the backoff window in ms, however many attempts failed.
   *
   * @defaultValue 30_000
   */
  maxRetry?: number
  /**
   * Whether to reconnect when the stream ends or fails. With `false`, the
   * first end or failure closes the stream.
   *
   * @defaultValue true
   */
  reconnect?: boolean
  /**
   * The `fetch` to use (a polyfill, an instrumented fetch, or Node's own in a
   * test environment that replaces the global one).
   *
   * @defaultValue globalThis.fetch
   */
  fetch?: typeof fetch
  /**
   * Whether a 408, 429 or 5xx answer is retried (waiting out `Retry-After`).
   * A deliberate departure from the WHATWG processing model, which fails the
   * connection on any status but 200: a server that is restarting or
   * overloaded usually recovers. With `false`, only a dropped or ended stream
   * is reconnected, as in `EventSource`.
   *
   * @defaultValue true
   * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#dom-eventsource
   */
  retryServerErrors?: boolean
}

/**
 * An event stream opened by {@link connect}: `EventSource`'s listeners,
 * `on*` properties and `readyState`, plus async iteration.
 *
 * @example
 * ```ts
 * const stream = connect('/notifications')
 * stream.addEventListener('mention', (event) => notify(JSON.parse(event.data)))
 * stream.onerror = (error) => {
 *   if (stream.readyState === CLOSED) showOffline(error.message)
 * }
 * ```
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#the-eventsource-interface
 */
export interface EventStream extends AsyncIterable<ParsedEvent> {
  /**
   * {@link CONNECTING} (also while waiting to reconnect), {@link OPEN}, or
   * {@link CLOSED} for good.
   */
  readonly readyState: ReadyState
  /** The last event ID received (or `lastEventId` from the options); sent as `Last-Event-ID` on reconnect. */
  readonly lastEventId: string
  /**
   * The absolute URL of the stream (as given, when there is no base to
   * resolve it against); with a function URL, the latest attempt's (`''`
   * before the first).
   */
  readonly url: string
  /** Called when a response was accepted as an event stream, before the `open` listeners. */
  onopen: (() => void) | null
  /** Called with every event of type `message` (no `event:` field), before the `message` listeners. */
  onmessage: ((event: ParsedEvent) => void) | null
  /** Called with every error, before the `error` listeners. */
  onerror: ((error: StreamError) => void) | null
  /** Listens for each accepted response (every reconnect opens again). */
  addEventListener(type: 'open', listener: () => void): void
  /** Listens for errors: see {@link StreamError} for when each one is reported. */
  addEventListener(type: 'error', listener: (error: StreamError) => void): void
  /**
   * Listens for events of a type: `'message'` for events without an `event:`
   * field, or the name of an event. Server events named `open` or `error`
   * reach async iteration only, never these listeners.
   */
  addEventListener(type: string, listener: (event: ParsedEvent) => void): void
  /** Removes a listener added with {@link EventStream.addEventListener}. */
  removeEventListener(type: string, listener: (...args: never[]) => void): void
  /**
   * Closes the stream for good: aborts the request, cancels the body, clears
   * the reconnect timer and ends every async iteration. Idempotent.
   */
  close(): void
  /**
   * Iterates over every event (all types) dispatched from now on; the loop
   * ends when the stream closes, and throws the error that stopped the stream
   * when it stopped on a response it does not retry. Leaving the loop
   * (`break`, `return`, a throw) closes the stream.
   *
   * Events wait in a per-iterator buffer between pulls. When any buffer holds
   * {@link ITERATOR_HIGH_WATER_MARK} events, reading from the network pauses
   * (listeners wait too) until the loop catches up, so memory stays bounded
   * and nothing is dropped; one network chunk already read may add its
   * events past the mark. A server that meanwhile closes a slow connection is
   * reconnected to with `Last-Event-ID`.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<ParsedEvent>
}

/**
 * How many events an async iterator of an {@link EventStream} buffers before
 * reading from the network pauses (a fixed bound, not an option).
 *
 * @example
 * ```ts
 * for await (const event of stream) await save(event) // a slow loop pauses the stream, never drops
 * ```
 */
export const ITERATOR_HIGH_WATER_MARK = 1024

type Listener = (...args: never[]) => void
type Outcome = { error: StreamError; retryAfter?: number | undefined; ended?: boolean }

interface Consumer {
  readonly queue: ParsedEvent[]
  push(event: ParsedEvent): void
  end(): void
}

const UNSAFE_ID = /[\r\n\0]/

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
export function connect(
  url: string | URL | (() => string | URL | Promise<string | URL>),
  options: ClientOptions = {},
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

  let readyState: ReadyState = CONNECTING
  let closed = false
  // The error that stopped the stream, for async iterators to throw.
  let failure: StreamError | undefined
  // Consecutive attempts that did not end in an accepted response.
  let failures = 0
  let controller: AbortController | undefined
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  let wake: (() => void) | undefined
  let roomWaiter: (() => void) | undefined
  const listeners = new Map<string, Set<Listener>>()
  const consumers = new Set<Consumer>()

  const parser = createParser({
    onEvent: dispatchEvent,
    onRetry: (ms) => {
      retry = ms
    },
    onError: (error) => emitError(error),
  })
  // The parser has no way to start from a given id, but an `id:` line and a
  // blank line set it exactly as a stream would; reset() before each request
  // then keeps it, as it keeps every received id.
  if (initialId !== '') parser.feed(`id: ${initialId}\n\n`)

  const stream: EventStream = {
    get readyState() {
      return readyState
    },
    get lastEventId() {
      return parser.lastEventId
    },
    get url() {
      return href
    },
    onopen: null,
    onmessage: null,
    onerror: null,
    addEventListener(type: string, listener: Listener): void {
      if (typeof listener !== 'function') return
      let set = listeners.get(type)
      if (set === undefined) {
        set = new Set()
        listeners.set(type, set)
      }
      set.add(listener)
    },
    removeEventListener(type: string, listener: Listener): void {
      listeners.get(type)?.delete(listener)
    },
    close: shutdown,
    [Symbol.asyncIterator]: iterate,
  }

  if (signal?.aborted) {
    closed = true
    readyState = CLOSED
  } else {
    signal?.addEventListener('abort', shutdown, { once: true })
    run().then(undefined, (cause: unknown) =>
      stop(connectionError('The event stream failed unexpectedly', undefined, cause), true),
    )
  }
  return stream

  async function run(): Promise<void> {
    while (!closed) {
      const outcome = await attempt()
      if (outcome === undefined || closed) return
      if (!reconnect) {
        // A clean end is the stream finishing; anything else is a failure.
        if (outcome.ended) stop(undefined, false)
        else stop(outcome.error, true)
        return
      }
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
  async function attempt(): Promise<Outcome | undefined> {
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
    if (!headers.has('accept')) headers.set('accept', 'text/event-stream')
    const id = parser.lastEventId
    if (id !== '') headers.set('last-event-id', utf8ByteString(id))
    // The processing model fetches with cache mode "no-store": a stream must
    // never come from (or go into) an HTTP cache.
    const init: RequestInit = { method, headers, signal: own.signal, cache: 'no-store' }
    if (body !== null) init.body = body
    if (options.credentials !== undefined) init.credentials = options.credentials

    let response: Response
    try {
      response = await fetchImpl(href, init)
    } catch (cause) {
      if (closed) return undefined
      return { error: connectionError(`Could not connect to ${href}`, undefined, cause) }
    }
    if (closed) {
      discard(response)
      return undefined
    }

    const { status } = response
    if (status === 204) {
      discard(response)
      // The spec's way for a server to say "do not reconnect": not a failure,
      // so async iteration ends normally, but reported like EventSource does.
      stop(responseError(`${href} answered 204 No Content: not reconnecting`, status), false)
      return undefined
    }
    // The spec fails the connection on any status but 200, other 2xx (205,
    // 210, 299) included: they are not event streams, and retrying them
    // would loop.
    if (status !== 200) {
      discard(response)
      const error = responseError(
        `${href} answered ${status}${response.statusText ? ` ${response.statusText}` : ''}`,
        status,
      )
      // Our departure (see `retryServerErrors`): timeouts, rate limits and
      // server errors are worth another try.
      if (retryServerErrors && (status === 408 || status === 429 || status >= 500))
        return { error, retryAfter: parseRetryAfter(response.headers.get('retry-after')) }
      if ((status === 401 || status === 403) && onUnauthorized !== undefined) {
        // Only `true` retries; a callback that throws is reported and stops.
        let again: unknown
        try {
          again = await onUnauthorized(error)
        } catch (cause) {
          reportError(cause)
        }
        if (closed) return undefined
        if (again === true) return { error }
      }
      stop(error, true)
      return undefined
    }
    const contentType = response.headers.get('content-type')
    if (!isEventStream(contentType)) {
      discard(response)
      stop(
        responseError(
          `${href} answered with Content-Type ${contentType ?? '(none)'}, not text/event-stream`,
          status,
        ),
        true,
      )
      return undefined
    }

    readyState = OPEN
    failures = 0
    invoke(stream.onopen, undefined)
    emit('open', undefined)
    if (closed) {
      discard(response)
      return undefined
    }

    const ended: Outcome = {
      error: connectionError(`The event stream from ${href} ended`, status),
      ended: true,
    }
    if (response.body === null) return ended
    const bodyReader = response.body.getReader()
    reader = bodyReader
    try {
      for (;;) {
        if (isFull()) {
          await new Promise<void>((resolve) => {
            roomWaiter = resolve
          })
          if (closed) return undefined
        }
        const { done, value } = await bodyReader.read()
        if (closed) return undefined
        if (done) return ended
        // Listener errors never reach here (see invoke), so a throw is the parser's.
        parser.feed(value)
      }
    } catch (cause) {
      if (closed) return undefined
      return { error: connectionError(`The event stream from ${href} failed`, status, cause) }
    } finally {
      if (reader === bodyReader) reader = undefined
      own.abort()
      if (controller === own) controller = undefined
    }
  }

  function dispatchEvent(event: ParsedEvent): void {
    if (closed) return
    for (const consumer of consumers) consumer.push(event)
    // A server event named like our own events would reach listeners typed
    // for an error or no argument.
    if (event.type === 'open' || event.type === 'error') return
    if (event.type === 'message') invoke(stream.onmessage, event)
    emit(event.type, event)
  }

  function emitError(error: StreamError): void {
    invoke(stream.onerror, error)
    emit('error', error)
  }

  function emit(type: string, argument: unknown): void {
    const set = listeners.get(type)
    if (set === undefined) return
    // A snapshot, so listeners added now wait for the next event; listeners
    // removed now are skipped, as EventTarget does.
    for (const listener of Array.from(set)) {
      if (set.has(listener)) invoke(listener, argument)
    }
  }

  function invoke(listener: Listener | null, argument: unknown): void {
    if (typeof listener !== 'function') return
    try {
      ;(listener as (argument: unknown) => void).call(stream, argument)
    } catch (error) {
      // A listener's bug must not break the stream for the others: report it
      // the way EventTarget does and carry on.
      reportError(error)
    }
  }

  /** Stops for good, then reports `error` (if any) with readyState CLOSED. */
  function stop(error: StreamError | undefined, iteratorsThrow: boolean): void {
    if (closed) return
    if (iteratorsThrow) failure = error
    shutdown()
    if (error !== undefined) emitError(error)
  }

  function shutdown(): void {
    if (closed) return
    closed = true
    readyState = CLOSED
    signal?.removeEventListener('abort', shutdown)
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
    roomWaiter?.()
    roomWaiter = undefined
    for (const consumer of consumers) consumer.end()
    consumers.clear()
  }

  function isFull(): boolean {
    for (const consumer of consumers) {
      if (consumer.queue.length >= ITERATOR_HIGH_WATER_MARK) return true
    }
    return false
  }

  function checkRoom(): void {
    if (roomWaiter !== undefined && !isFull()) {
      const resolve = roomWaiter
      roomWaiter = undefined
      resolve()
    }
  }

  function iterate(): AsyncIterableIterator<ParsedEvent> {
    const queue: ParsedEvent[] = []
    const waiting: Array<{
      resolve: (result: IteratorResult<ParsedEvent>) => void
      reject: (error: unknown) => void
    }> = []
    let thrown = false
    let left = false
    const consumer: Consumer = {
      queue,
      push(event) {
        const next = waiting.shift()
        if (next === undefined) queue.push(event)
        else next.resolve({ value: event, done: false })
      },
      end() {
        for (const next of waiting.splice(0)) finish(next.resolve, next.reject)
      },
    }
    const finish = (
      resolve: (result: IteratorResult<ParsedEvent>) => void,
      reject: (error: unknown) => void,
    ): void => {
      if (failure !== undefined && !thrown && !left) {
        thrown = true
        reject(failure)
      } else resolve({ value: undefined, done: true })
    }
    if (!closed) consumers.add(consumer)
    const iterator: AsyncIterableIterator<ParsedEvent> = {
      next() {
        const value = queue.shift()
        if (value !== undefined) {
          checkRoom()
          return Promise.resolve({ value, done: false })
        }
        return new Promise((resolve, reject) => {
          if (closed || left) finish(resolve, reject)
          else waiting.push({ resolve, reject })
        })
      },
      return() {
        left = true
        queue.length = 0
        consumers.delete(consumer)
        consumer.end()
        shutdown()
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator]() {
        return iterator
      },
    }
    return iterator
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

function isEventStream(contentType: string | null): boolean {
  if (contentType === null) return false
  const semicolon = contentType.indexOf(';')
  const essence = semicolon === -1 ? contentType : contentType.slice(0, semicolon)
  return essence.trim().toLowerCase() === 'text/event-stream'
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

function responseError(message: string, status: number | undefined, cause?: unknown): SseError {
  return new SseError('SSE_INVALID_RESPONSE', message, { cause, status })
}

function connectionError(message: string, status: number | undefined, cause?: unknown): SseError {
  return new SseError('SSE_CONNECTION', message, { cause, status })
}

/** Frees the connection of a response we will not read. */
function discard(response: Response): void {
  response.body?.cancel().then(undefined, ignore)
}

function ignore(_reason: unknown): void {
  // Cancelling a body we gave up on can only fail because it already failed
  // or was aborted; nobody is waiting for that outcome.
}

function reportError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError
  if (typeof report === 'function') report(error)
  else
    queueMicrotask(() => {
      throw error
    })
}
