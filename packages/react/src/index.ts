import {
  CLOSED,
  type ClientOptions,
  CONNECTING,
  connect,
  type EventStream,
  OPEN,
  type ParsedEvent,
  type ReadyState,
  type StreamError,
} from '@sse/client'
import { type DependencyList, useCallback, useEffect, useRef, useState } from 'react'

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
}

/**
 * What {@link useEventSource} returns: the latest event and the connection state.
 *
 * @example
 * ```ts
 * const { lastEvent, status, error, close } = useEventSource('/feed')
 * ```
 */
export interface UseEventSourceResult {
  /** The latest delivered event, or `null` before the first one (and after the URL changed). */
  lastEvent: ParsedEvent | null
  /** `'connecting'` (also while waiting to reconnect), `'open'` or `'closed'`. */
  status: EventSourceStatus
  /** The same state as the client's `readyState` number. */
  readyState: ReadyState
  /**
   * The last error reported, cleared when a connection opens. With `status`
   * `'closed'` it is why the stream stopped (a 401, a wrong content type…).
   */
  error: StreamError | null
  /** Closes the stream for good, until the URL or `deps` change. Stable across renders. */
  close: () => void
}

interface State {
  lastEvent: ParsedEvent | null
  readyState: ReadyState
  error: StreamError | null
}

const STATUS: Record<ReadyState, EventSourceStatus> = {
  [CONNECTING]: 'connecting',
  [OPEN]: 'open',
  [CLOSED]: 'closed',
}

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
export function useEventSource(
  url: string | URL | null,
  options: UseEventSourceOptions = {},
): UseEventSourceResult {
  const href = url === null ? null : String(url)
  // LF cannot occur in an event name (it ends the `event:` line).
  const eventsKey = options.events?.join('\n') ?? ''
  const [state, setState] = useState<State>(() => initialState(href))
  const latest = useRef(options)
  const stream = useRef<EventStream | null>(null)

  // Declared before the connection effect, so that effect reads this render's options.
  useEffect(() => {
    latest.current = options
  })

  useEffect(() => {
    setState((current) => reset(current, href))
    if (href === null) return
    const { events: _events, onEvent: _onEvent, deps: _deps, ...clientOptions } = latest.current
    const types = new Set(eventsKey === '' ? ['message'] : ['message', ...eventsKey.split('\n')])
    const current = connect(href, clientOptions)
    stream.current = current
    let active = true

    current.addEventListener('open', () => {
      setState((s) => ({ ...s, readyState: OPEN, error: null }))
    })
    current.addEventListener('error', (error) => {
      const readyState = current.readyState
      setState((s) => ({ ...s, readyState, error }))
    })
    // Listeners, not the loop below, deliver events: the client reports an
    // `onEvent` that throws and carries on, where a throw in the loop would
    // close the stream.
    const deliver = (event: ParsedEvent): void => {
      setState((s) => ({ ...s, lastEvent: event }))
      latest.current.onEvent?.(event)
    }
    for (const type of types) current.addEventListener(type, deliver)
    // Iterating tells when the stream closes, however that happens (close(),
    // the signal, a final error already reported to the listener above, or a
    // clean end with `reconnect: false`).
    const closed = async (): Promise<void> => {
      for await (const _event of current) if (!active) return
    }
    const ended = (): void => {
      if (active) setState((s) => (s.readyState === CLOSED ? s : { ...s, readyState: CLOSED }))
    }
    closed().then(ended, ended)

    return () => {
      active = false
      current.close()
      if (stream.current === current) stream.current = null
    }
  }, [href, eventsKey, ...(options.deps ?? [])])

  const close = useCallback((): void => {
    stream.current?.close()
  }, [])

  return {
    lastEvent: state.lastEvent,
    status: STATUS[state.readyState],
    readyState: state.readyState,
    error: state.error,
    close,
  }
}

function initialState(href: string | null): State {
  return { lastEvent: null, readyState: href === null ? CLOSED : CONNECTING, error: null }
}

/** A fresh state for a new connection, keeping the old object when nothing changes (no render). */
function reset(current: State, href: string | null): State {
  const next = initialState(href)
  return current.lastEvent === null &&
    current.error === null &&
    current.readyState === next.readyState
    ? current
    : next
}
