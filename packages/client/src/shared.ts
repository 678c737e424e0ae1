// One connection for many tabs. Tabs of one origin that open the same URL
// (and key) elect one holder with the Web Locks API: it alone holds the HTTP
// stream and relays every event, its id and its state to the others over a
// BroadcastChannel. When the holder goes (its tab closes, or it calls
// close()), the lock passes to a waiting tab, which connects with the last
// id it was relayed: nothing lost, nothing twice (see `Delivered` for the
// events another tab already has). Without those APIs, each tab connects on
// its own.
import { type EventMap, SseError } from '@sse/core'
import { connect, kOnId } from './connect'
import { createFacade } from './facade'
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

/** Options for {@link connectShared}: those of `connect`, and a key. */
export interface SharedOptions extends ClientOptions {
  /**
   * Tabs share a connection when their URL and key are the same: give each
   * distinct stream (a user, a set of topics) its own key when the URL alone
   * does not say it. The URL must be a string or URL, not a function.
   *
   * @defaultValue ''
   */
  key?: string
}

/** What the holder tells the others (and `hello`, what a new tab asks it). */
type Message =
  | { kind: 'hello' }
  /** A new holder (tag `holder`) connects from `lastEventId`. */
  | { kind: 'resume'; holder: string; lastEventId: string }
  | {
      kind: 'event'
      holder: string
      type: string
      data: string
      lastEventId: string
      value?: unknown
    }
  | { kind: 'id'; lastEventId: string }
  | { kind: 'state'; readyState: ReadyState }
  | { kind: 'error'; error: ErrorFields }
  /** The holder's stream stopped for good: every tab stops (`failed`: loops throw). */
  | { kind: 'stop'; error: ErrorFields | undefined; failed: boolean }

interface ErrorFields {
  code: StreamError['code']
  message: string
  status: number | undefined
}

interface LockManager {
  request(
    name: string,
    options: { signal: AbortSignal },
    callback: () => Promise<void>,
  ): Promise<void>
}

/**
 * `connect`, with one HTTP stream for every tab of the origin that opens the
 * same URL and key: the same `EventStream` in each tab, every event in each.
 * Falls back to `connect` where `navigator.locks` or `BroadcastChannel` is
 * missing.
 *
 * @example
 * ```ts
 * const stream = connectShared('/notifications', { key: userId })
 * stream.addEventListener('notice', (event) => show(JSON.parse(event.data)))
 * ```
 */
export function connectShared<E extends EventMap>(
  url: string | URL,
  options: SharedOptions & TypedOptions<E>,
): EventStream<E>
export function connectShared(url: string | URL, options?: SharedOptions): EventStream
export function connectShared(url: string | URL, options: SharedOptions = {}): EventStream {
  const locks = (globalThis as { navigator?: { locks?: LockManager | null } }).navigator?.locks
  const { key = '', ...connectOptions } = options
  if (typeof url === 'function') throw new TypeError('connectShared: the URL cannot be a function')
  if (!locks || typeof BroadcastChannel === 'undefined') {
    return connect(url, connectOptions)
  }
  const href = new URL(url, (globalThis as { location?: { href?: string } }).location?.href).href
  const name = `@sse/client ${href} ${key}`
  const channel = new BroadcastChannel(name)
  const held = new AbortController()
  let readyState: ReadyState = CONNECTING
  let closed = false
  let lastEventId = connectOptions.lastEventId ?? ''
  let failure: StreamError | undefined
  let inner: EventStream | undefined
  let release: (() => void) | undefined
  const delivered = new Delivered()

  const facade = createFacade(
    {
      readyState: () => readyState,
      lastEventId: () => lastEventId,
      url: () => href,
      failure: () => failure,
    },
    close,
  )
  const stream = facade.stream

  // Not the holder: what the holder relays.
  channel.onmessage = ({ data }: MessageEvent<Message>) => {
    if (closed) return
    if (inner === undefined) receive(data)
    else if (data.kind === 'hello') {
      // A tab that just came: where the stream stands now.
      channel.postMessage({ kind: 'id', lastEventId } satisfies Message)
      channel.postMessage({ kind: 'state', readyState } satisfies Message)
    }
  }
  channel.postMessage({ kind: 'hello' } satisfies Message)

  // Waits for the lock (at once for the first tab); holds it until close().
  locks
    .request(name, { signal: held.signal }, () => {
      if (closed) return Promise.resolve()
      hold()
      return new Promise<void>((resolve) => {
        release = resolve
      })
    })
    .catch(() => undefined) // aborted by close() while waiting
  return stream

  /** Becomes the holder: connects from the last id relayed so far. */
  function hold(): void {
    const holder = tag()
    relay({ kind: 'resume', holder, lastEventId })
    const own = connect(href, { ...connectOptions, lastEventId, [kOnId]: onId } as ClientOptions)
    inner = own
    // The error a stream that stops for good reports (a 204's included).
    let last: StreamError | undefined
    own.addEventListener('open', () => relay({ kind: 'state', readyState: OPEN }))
    own.addEventListener('error', (error) => {
      if (own.readyState === CLOSED) {
        last = error
        return
      }
      relay({ kind: 'state', readyState: CONNECTING })
      relay({ kind: 'error', error: fieldsOf(error) })
    })
    void (async () => {
      let thrown: StreamError | undefined
      try {
        for await (const event of own) {
          // A typed stream's value (parsed and checked by the holder) goes too.
          relay({ kind: 'event', holder, ...event })
        }
      } catch (error) {
        thrown = error as StreamError
      }
      if (closed) return
      const error = thrown ?? last
      relay({ kind: 'stop', error: error && fieldsOf(error), failed: thrown !== undefined })
    })()
  }

  function onId(id: string): void {
    relay({ kind: 'id', lastEventId: id })
  }

  /** Applies a message here, and (as the holder) tells the others. */
  function relay(message: Message): void {
    if (closed) return
    // Posted first: a stop closes the channel.
    channel.postMessage(message)
    receive(message)
  }

  function receive(message: Message): void {
    switch (message.kind) {
      case 'hello':
        return
      case 'resume':
        delivered.resume(message.holder, message.lastEventId, lastEventId)
        return
      case 'event': {
        if (!delivered.admit(message.holder, message.lastEventId)) return
        lastEventId = message.lastEventId
        const { kind: _kind, holder: _holder, ...event } = message
        facade.dispatch(event)
        return
      }
      case 'id':
        lastEventId = message.lastEventId
        return
      case 'state':
        if (readyState === message.readyState) return
        readyState = message.readyState
        if (readyState === OPEN) facade.opened()
        return
      case 'error':
        facade.failed(errorOf(message.error))
        return
      case 'stop': {
        // A 4xx, a 204: every tab stops, none takes over.
        const error = message.error && errorOf(message.error)
        if (message.failed) failure = error
        close()
        if (error !== undefined) facade.failed(error)
      }
    }
  }

  function close(): void {
    if (closed) return
    // Leaving, the holder lets the next tab take over: nothing to tell.
    closed = true
    readyState = CLOSED
    held.abort()
    inner?.close()
    // The next tab waiting for the lock takes over.
    release?.()
    channel.close()
    facade.end()
  }
}

/** How many of the latest ids a tab keeps to recognise events it already has. */
const KEEP = 1024

/**
 * The ids of the events this tab dispatched lately, in order, and where each
 * holder's next event falls among them. A tab that takes over connects from
 * the last id relayed to it, which can be behind another tab's: the events
 * of the tab that left reach each tab on their own time, and the lock may
 * pass first. The new holder gets those events again from the server; a tab
 * that already dispatched them skips them, and skips the late ones of the tab
 * that left once the new holder relayed them. Only the same id at the same
 * place counts as the same event: where they differ (the server resynced),
 * the event is dispatched.
 */
class Delivered {
  #ids: string[] = []
  /** The place of `#ids[0]` among every event this tab dispatched. */
  #first = 0
  /** Each recent holder's next place; a holder not here appends. */
  #next = new Map<string, number>()

  /** `holder` connects from `from`; `lastEventId` is this tab's own. */
  resume(holder: string, from: string, lastEventId: string): void {
    const at = from === lastEventId ? -1 : this.#ids.lastIndexOf(from)
    this.#place(holder, at === -1 ? this.#first + this.#ids.length : this.#first + at + 1)
  }

  /** Whether `holder`'s next event, of id `id`, is new to this tab. */
  admit(holder: string, id: string): boolean {
    const at = this.#next.get(holder)
    if (at !== undefined && at >= this.#first && this.#ids[at - this.#first] === id) {
      this.#place(holder, at + 1)
      return false
    }
    this.#ids.push(id)
    if (this.#ids.length > KEEP) {
      this.#ids.shift()
      this.#first++
    }
    this.#place(holder, this.#first + this.#ids.length)
    return true
  }

  #place(holder: string, at: number): void {
    this.#next.delete(holder)
    this.#next.set(holder, at)
    // Only the last few holders can still have events on their way.
    if (this.#next.size > 4) this.#next.delete(this.#next.keys().next().value as string)
  }
}

/** A holder's tag: unique among the tabs (crypto.randomUUID needs a secure context). */
function tag(): string {
  return `${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}`
}

function fieldsOf(error: StreamError): ErrorFields {
  return { code: error.code, message: error.message, status: error.status }
}

function errorOf(fields: ErrorFields): StreamError {
  return new SseError(fields.code, fields.message, { status: fields.status })
}
