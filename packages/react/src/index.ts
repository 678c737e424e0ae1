import {
  CLOSED,
  type ClientOptions,
  CONNECTING,
  connect,
  createStreamStore,
  type EventMap,
  type EventStream,
  OPEN,
  type ParsedEvent,
  type ReadyState,
  type StreamError,
  type StreamEvent,
  type StreamSnapshot,
  type StreamStore,
  type TypedOptions,
} from '@sse/client'
import { connectShared } from '@sse/client/shared'
import {
  type DependencyList,
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useSyncExternalStore,
} from 'react'

export type { ClientOptions, ParsedEvent, ReadyState, StreamError } from '@sse/client'

/**
 * The connection state as a word: `readyState` 0, 1 and 2.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#dom-eventsource-readystate
 */
export type EventSourceStatus = 'connecting' | 'open' | 'closed'

/**
 * Options for {@link useEventSource}: every `@sse/client` option plus the hook's own.
 *
 * @example
 * ```ts
 * useEventSource('/api/chat', {
 *   method: 'POST',
 *   body: JSON.stringify({ prompt }),
 *   events: ['token', 'done'],
 *   onEvent: (event) => event.type === 'token' && append(event.data),
 *   deps: [prompt],
 * })
 * ```
 */
export interface UseEventSourceOptions extends ClientOptions {
  /**
   * Named events (`event:` field) to deliver besides `message`. Compared by
   * value: a new array with the same names does not reconnect.
   *
   * @defaultValue []
   */
  events?: readonly string[]
  /**
   * Called with every delivered event. Always the latest function from the
   * last render is called, so an inline callback never reconnects.
   */
  onEvent?: (event: ParsedEvent) => void
  /**
   * Values that, when they change, reconnect with the options of that
   * render, like an effect's dependency list (so it must keep its length).
   * The options object itself is not compared: inline objects are fine.
   *
   * @defaultValue []
   * @example
   * ```ts
   * useEventSource('/api/feed', { headers: { authorization: token }, deps: [token] })
   * ```
   */
  deps?: DependencyList
  /**
   * One stream for every tab of the origin that uses this URL and `key`
   * (see `connectShared` in `@sse/client/shared`); a change reconnects.
   *
   * @defaultValue false
   */
  shared?: boolean
  /** With `shared`: tabs share a stream when URL and key match. @defaultValue '' */
  key?: string
}

/**
 * What {@link useEventSource} returns: the latest event and the connection state.
 *
 * @example
 * ```ts
 * const { lastEvent, status, error, close } = useEventSource('/feed')
 * ```
 */
export interface UseEventSourceResult<E extends EventMap = EventMap> {
  /**
   * The latest delivered event, or `null` before the first one (and after
   * the URL changed). For a typed stream, narrowed by its `type`.
   */
  lastEvent: StreamEvent<E> | null
  /** `'connecting'` (also while waiting to reconnect), `'open'` or `'closed'`. */
  status: EventSourceStatus
  /** The same state as the client's `readyState` number. */
  readyState: ReadyState
  /**
   * The last error reported, cleared when a connection opens. With `status`
   * `'closed'` it is why the stream stopped (a 401, a wrong content type…).
   */
  error: StreamError | null
  /** Closes the stream for good, until the URL or `deps` change. Stable until they do. */
  close: () => void
}

const STATUS: Record<ReadyState, EventSourceStatus> = {
  [CONNECTING]: 'connecting',
  [OPEN]: 'open',
  [CLOSED]: 'closed',
}

const NOT_CONNECTED: StreamSnapshot = { readyState: CLOSED, lastEvent: null, error: null }
const notConnected = (): StreamSnapshot => NOT_CONNECTED
const noSubscription = (): (() => void) => () => undefined

/**
 * Subscribes a component to a Server-Sent Events stream with `@sse/client`'s
 * {@link connect}: it opens on mount, closes on unmount, and reconnects to the
 * new stream when `url`, `events` or `deps` change (`null` = not connected).
 *
 * Options are read when the connection opens. Their identity is ignored, so
 * an inline options object or callback causes no reconnect storm; list what
 * should reconnect (a token in `headers`, a prompt in `body`) in `deps`.
 *
 * @example
 * ```tsx
 * function Price({ symbol }: { symbol: string }) {
 *   const { lastEvent, status, error } = useEventSource(`/prices/${symbol}`, {
 *     events: ['price'],
 *   })
 *   if (error && status === 'closed') return <p>Failed: {error.message}</p>
 *   return <p>{status === 'open' ? lastEvent?.data : '…'}</p>
 * }
 * ```
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#the-eventsource-interface
 */
export function useEventSource<E extends EventMap>(
  url: string | URL | null,
  options: UseEventSourceOptions & TypedOptions<E>,
): UseEventSourceResult<E>
export function useEventSource(
  url: string | URL | null,
  options?: UseEventSourceOptions,
): UseEventSourceResult
export function useEventSource(
  url: string | URL | null,
  options: UseEventSourceOptions = {},
): UseEventSourceResult {
  const href = url === null ? null : String(url)
  // LF cannot occur in an event name (it ends the `event:` line).
  const eventsKey = options.events?.join('\n') ?? ''
  const shared = options.shared ?? false
  const key = options.key ?? ''
  const latest = useRef(options)
  // Declared before the store subscribes (in commit), so it reads this render's options.
  useEffect(() => {
    latest.current = options
  })

  // One store per connection; nothing connects until React subscribes (in
  // the commit), and the last unsubscribe closes it.
  const store = useMemo((): StreamStore | null => {
    if (href === null) return null
    return createStreamStore(
      () => {
        const {
          events: _events,
          onEvent: _onEvent,
          deps: _deps,
          shared: _shared,
          key: _key,
          ...clientOptions
        } = latest.current
        // (Typed or not, the same stream at run time.)
        return (
          shared ? connectShared(href, { ...clientOptions, key }) : connect(href, clientOptions)
        ) as EventStream
      },
      {
        events: eventsKey === '' ? [] : eventsKey.split('\n'),
        onEvent: (event) => latest.current.onEvent?.(event),
      },
    )
  }, [href, eventsKey, shared, key, ...(options.deps ?? [])])

  const snapshot = useSyncExternalStore(
    store?.subscribe ?? noSubscription,
    store?.getSnapshot ?? notConnected,
    store?.getSnapshot ?? notConnected,
  )
  const close = useCallback((): void => store?.close(), [store])

  return {
    lastEvent: snapshot.lastEvent,
    status: STATUS[snapshot.readyState],
    readyState: snapshot.readyState,
    error: snapshot.error,
    close,
  }
}
