// A small external store over a stream, for UI frameworks that render from
// snapshots (React's useSyncExternalStore): an immutable snapshot replaced
// on every change, and change listeners. The stream opens with the first
// subscriber and closes when the last one leaves.
import type { ParsedEvent } from '@sse/core'
import {
  CLOSED,
  CONNECTING,
  type EventStream,
  OPEN,
  type ReadyState,
  type StreamError,
} from './types'

/** What a {@link StreamStore} holds: a new object on every change. */
export interface StreamSnapshot {
  readonly readyState: ReadyState
  /** The latest delivered event, `null` before the first. */
  readonly lastEvent: ParsedEvent | null
  /** The last error reported, cleared when a connection opens. */
  readonly error: StreamError | null
}

/** See {@link createStreamStore}. */
export interface StreamStore {
  /** Listens for changes; the first listener opens the stream, the last to leave closes it. */
  subscribe(onChange: () => void): () => void
  /** The current snapshot: the same object until something changes. */
  getSnapshot(): StreamSnapshot
  /** Closes the stream for good (new subscribers do not reopen it). */
  close(): void
}

/** Options for {@link createStreamStore}. */
export interface StreamStoreOptions {
  /** Named events delivered besides `message`. @defaultValue [] */
  events?: readonly string[]
  /** Called with every delivered event. */
  onEvent?: (event: ParsedEvent) => void
}

/**
 * A store over the stream `open()` returns (called when the first listener
 * subscribes), for `useSyncExternalStore` and the like.
 *
 * @example
 * ```ts
 * const store = createStreamStore(() => connect('/prices'), { events: ['price'] })
 * const unsubscribe = store.subscribe(() => render(store.getSnapshot()))
 * ```
 */
export function createStreamStore(
  open: () => EventStream,
  options: StreamStoreOptions = {},
): StreamStore {
  const types = ['message', ...(options.events ?? [])]
  const listeners = new Set<() => void>()
  let snapshot: StreamSnapshot = { readyState: CONNECTING, lastEvent: null, error: null }
  let stream: EventStream | undefined
  let closedForGood = false

  const update = (next: Partial<StreamSnapshot>): void => {
    snapshot = { ...snapshot, ...next }
    for (const listener of Array.from(listeners)) listener()
  }

  const start = (): void => {
    const current = open()
    stream = current
    if (snapshot.readyState !== current.readyState) update({ readyState: current.readyState })
    current.addEventListener('open', () => update({ readyState: OPEN, error: null }))
    current.addEventListener('error', (error) => update({ readyState: current.readyState, error }))
    // Listeners deliver events: the client reports an `onEvent` that throws
    // and carries on.
    const deliver = (event: ParsedEvent): void => {
      update({ lastEvent: event })
      options.onEvent?.(event)
    }
    for (const type of types) current.addEventListener(type, deliver)
    // Iterating tells when the stream closes, however that happens (close(),
    // its signal, a final error, a clean end with `reconnect: false`).
    const ended = (): void => {
      if (stream === current && snapshot.readyState !== CLOSED) update({ readyState: CLOSED })
    }
    ;(async () => {
      for await (const _event of current) if (stream !== current) return
    })().then(ended, ended)
    // `hidden: 'close'` changes readyState without an event: read it again.
    page?.addEventListener('visibilitychange', onVisibility)
  }

  const page = (
    globalThis as { document?: Pick<Document, 'addEventListener' | 'removeEventListener'> }
  ).document
  function onVisibility(): void {
    if (stream !== undefined && stream.readyState !== snapshot.readyState) {
      update({ readyState: stream.readyState })
    }
  }

  const stop = (): void => {
    const current = stream
    stream = undefined
    page?.removeEventListener('visibilitychange', onVisibility)
    current?.close()
  }

  return {
    subscribe(onChange) {
      listeners.add(onChange)
      if (stream === undefined && !closedForGood) start()
      return () => {
        listeners.delete(onChange)
        if (listeners.size === 0) stop()
      }
    },
    getSnapshot: () => snapshot,
    close() {
      closedForGood = true
      stop()
      if (snapshot.readyState !== CLOSED) update({ readyState: CLOSED })
    },
  }
}
