// The `EventStream` object that `connect` and `connectShared` hand out, and
// the one way events, opens and errors reach its listeners and loops.
import type { ParsedEvent } from '@sse/core'
import { Iterators } from './iterators'
import { invoke, type Listener, Listeners } from './listeners'
import type { EventStream, ReadyState, StreamError } from './types'

/** What the stream reads from whoever drives it. */
export interface StreamState {
  readyState(): ReadyState
  lastEventId(): string
  url(): string
  /** The error that stopped the stream, for loops to throw. */
  failure(): StreamError | undefined
}

export interface Facade {
  readonly stream: EventStream
  /** "Dispatch the event": loops get every event; listeners those of their type. */
  dispatch(event: ParsedEvent): void
  /** "Announce the connection": `onopen`, then the `open` listeners. */
  opened(): void
  /** `onerror`, then the `error` listeners. */
  failed(error: StreamError): void
  /** The stream stopped: loops end (or throw the failure). */
  end(): void
  /** Waits until every loop has room for more (see `Iterators.room`). */
  room(): Promise<void> | undefined
}

export function createFacade(state: StreamState, close: () => void): Facade {
  const listeners = new Listeners()
  const iterators = new Iterators(state.failure, close)
  const stream: EventStream = {
    get readyState() {
      return state.readyState()
    },
    get lastEventId() {
      return state.lastEventId()
    },
    get url() {
      return state.url()
    },
    onopen: null,
    onmessage: null,
    onerror: null,
    addEventListener(type: string, listener: Listener): void {
      listeners.add(type, listener)
    },
    removeEventListener(type: string, listener: Listener): void {
      listeners.remove(type, listener)
    },
    close,
    [Symbol.asyncIterator]: () => iterators.iterate(),
  }
  return {
    stream,
    dispatch(event) {
      iterators.push(event)
      // A server event named like our own events would reach listeners typed
      // for an error or no argument.
      if (event.type === 'open' || event.type === 'error') return
      if (event.type === 'message') invoke(stream.onmessage, event, stream)
      listeners.emit(event.type, event, stream)
    },
    opened() {
      invoke(stream.onopen, undefined, stream)
      listeners.emit('open', undefined, stream)
    },
    failed(error) {
      invoke(stream.onerror, error, stream)
      listeners.emit('error', error, stream)
    },
    end: () => iterators.end(),
    room: () => iterators.room(),
  }
}
