// The public shape of the client: ready states, options, the stream.
import type { EventMap, EventName, ParsedEvent, SseError } from '@sse/core'

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
 * Options for `connect`: the request `fetch` makes, and the reconnection policy.
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
  /**
   * What to do while the page is hidden (a background tab, a minimized
   * window): `'keep'` the stream open, or `'close'` it when the page is
   * hidden and reconnect at once, with its Last-Event-ID, when it is visible
   * again, so the tab misses nothing and holds no connection meanwhile
   * (`readyState` is {@link CONNECTING} while hidden; no `error` is
   * reported for it). A page that starts hidden connects once visible.
   * Without a `document` (Node, workers), `'close'` has no effect.
   *
   * @defaultValue 'keep'
   */
  hidden?: 'keep' | 'close'
}

/**
 * An event stream opened by `connect`: `EventSource`'s listeners,
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
export interface EventStream<E extends EventMap = EventMap> extends AsyncIterable<StreamEvent<E>> {
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
  onmessage: ((event: StreamEvent<E, 'message' & EventName<E>>) => void) | null
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
  addEventListener<K extends EventName<E>>(
    type: K,
    listener: (event: StreamEvent<E, K>) => void,
  ): void
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
   * `ITERATOR_HIGH_WATER_MARK` events, reading from the network pauses
   * (listeners wait too) until the loop catches up, so memory stays bounded
   * and nothing is dropped; one network chunk already read may add its
   * events past the mark. A server that meanwhile closes a slow connection is
   * reconnected to with `Last-Event-ID`.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<StreamEvent<E>>
}

/**
 * An event of a typed stream: its `type` narrows `value`, the data parsed as
 * JSON (and validated, when the type has a schema).
 */
export type TypedEvent<E extends EventMap, K extends EventName<E>> = ParsedEvent & {
  readonly type: K
  readonly value: E[K]
}

/** What listeners and loops get: a `ParsedEvent`, or for a typed stream a union narrowed by `type`. */
export type StreamEvent<
  E extends EventMap,
  K extends EventName<E> = EventName<E>,
> = string extends keyof E ? ParsedEvent : { [P in K]: TypedEvent<E, P> }[K]

/**
 * A Standard Schema (https://standardschema.dev): zod, valibot, arktype
 * and others implement it. Copied here, as the spec invites, so that none of
 * them (nor the spec package) is a dependency.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1
    readonly vendor: string
    readonly validate: (
      value: unknown,
    ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>
    readonly types?: { readonly input: Input; readonly output: Output } | undefined
  }
}

/** What a Standard Schema's `validate` returns. */
export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string
        readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined
      }>
    }

/**
 * The options of a typed stream (`connect<Events>(url, { json: true })`):
 * every event's data is parsed as JSON into `value`, and checked against
 * its type's schema when there is one. An event whose data does not parse or
 * fails its schema is not delivered: it is reported as an `SseError` with
 * code `SSE_INVALID_EVENT` (the issues in `cause`), and the stream goes on.
 */
export interface TypedOptions<E extends EventMap> {
  json: true
  /** Schemas by event type (sync ones: an async schema's events are reported, not delivered). */
  schemas?: { readonly [K in EventName<E>]?: StandardSchemaV1<unknown, E[K]> }
}
