// One connection for many tabs. Tabs of one origin that open the same URL
// (and key) elect one holder with the Web Locks API: it alone holds the HTTP
// stream and relays every event, its id and its state to the others over a
// BroadcastChannel. When the holder goes (its tab closes, or it calls
// close()), the lock passes to a waiting tab, which connects with the last
// id it was relayed: nothing lost, nothing twice (see `Delivered` for the
// events another tab already has). With `hidden: 'close'` the holder keeps
// the lock while hidden, and the stream while any tab wants it: a visible
// one, or one that does not watch visibility. Without those APIs, each tab
// connects on its own.
import { type EventMap, SseError } from '@sse/core'
import { connect, kTap, type Tap } from './connect'
import { createFacade } from './facade'
import { pageToWatch } from './page'
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

/**
 * Options for {@link connectShared}: those of `connect`, and a key. `signal`
 * closes this tab's stream alone (a holding tab passes the connection on);
 * `hidden: 'close'` keeps the connection while any tab of it wants it
 * (visible, or not watching visibility) and drops it while every one is
 * hidden.
 */
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

/** What the holder tells the others (and `hello`, `want`: what they tell it). */
type Message =
  /** A new tab asks where the stream stands. */
  | { kind: 'hello' }
  /** A tab (tag `tab`) wants the stream held (it is visible), or no longer. */
  | { kind: 'want'; tab: string; wants: boolean }
  /** A tab took the lock: the tabs that want the stream say so again. */
  | { kind: 'held' }
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
  // This tab's signal and page close or pause this tab, not the holder's
  // stream: the holder's own stream ignores both.
  const { signal, hidden, ...holderOptions } = connectOptions
  const page = pageToWatch(hidden, 'connectShared')
  const href = new URL(url, (globalThis as { location?: { href?: string } }).location?.href).href
  const name = `@sse/client ${href} ${key}`
  const channel = new BroadcastChannel(name)
  const held = new AbortController()
  const me = tag()
  let readyState: ReadyState = CONNECTING
  let closed = false
  let lastEventId = connectOptions.lastEventId ?? ''
  let failure: StreamError | undefined
  // Holding the lock; the tabs that want the stream; the stream, if held.
  let holding = false
  const wanting = new Set<string>()
  let inner: EventStream | undefined
  let release: (() => void) | undefined
  const delivered = new Delivered()
  const view = globalThis as Partial<Pick<Window, 'addEventListener' | 'removeEventListener'>>

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

  channel.onmessage = ({ data }: MessageEvent<Message>) => {
    if (closed) return
    if (!holding) {
      // What the holder relays, and its question.
      if (data.kind === 'held') announce()
      else receive(data)
      return
    }
    switch (data.kind) {
      case 'hello':
        // A tab that just came: where the stream stands now.
        channel.postMessage({ kind: 'id', lastEventId } satisfies Message)
        channel.postMessage({ kind: 'state', readyState } satisfies Message)
        return
      case 'want':
        if (data.wants) wanting.add(data.tab)
        else wanting.delete(data.tab)
        update()
        return
      default:
        // What the tab before was still relaying: all of it while this one
        // holds no stream (its own would resume after it), and a stop always.
        if (inner === undefined || data.kind === 'stop') receive(data)
    }
  }
  channel.postMessage({ kind: 'hello' } satisfies Message)

  if (signal?.aborted) {
    close()
    return stream
  }
  signal?.addEventListener('abort', close, { once: true })
  page?.addEventListener('visibilitychange', onVisibility)
  // A tab that goes (or is restored from the back/forward cache) says so.
  view.addEventListener?.('pagehide', withdraw)
  view.addEventListener?.('pageshow', announce)
  announce()
  // Waits for the lock (at once for the first tab); holds it until close().
  locks
    .request(name, { signal: held.signal }, () => {
      if (closed) return Promise.resolve()
      holding = true
      channel.postMessage({ kind: 'held' } satisfies Message)
      update()
      return new Promise<void>((resolve) => {
        release = resolve
      })
    })
    .catch(() => undefined) // aborted by close() while waiting
  return stream

  /** Whether this tab wants the stream held: it does not watch visibility, or it is visible. */
  function wants(): boolean {
    return page === undefined || page.visibilityState !== 'hidden'
  }

  /** Tells the holder whether this tab wants the stream. */
  function announce(): void {
    channel.postMessage({ kind: 'want', tab: me, wants: wants() } satisfies Message)
  }

  function withdraw(): void {
    channel.postMessage({ kind: 'want', tab: me, wants: false } satisfies Message)
  }

  function onVisibility(): void {
    if (holding) update()
    else announce()
  }

  /** As the holder: streams while any tab wants it, this one included. */
  function update(): void {
    if (closed || !holding) return
    if (wants() || wanting.size > 0) {
      if (inner === undefined) connectHere()
      return
    }
    if (inner === undefined) return
    // Every tab hidden: nothing held until one is shown, as `connect` does.
    const own = inner
    inner = undefined
    own.close()
    relay({ kind: 'state', readyState: CONNECTING })
  }

  /** Connects from the last id relayed so far, and relays what comes. */
  function connectHere(): void {
    const holder = tag()
    relay({ kind: 'resume', holder, lastEventId })
    const tap: Tap = {
      // A typed stream's value (parsed and checked by the holder) goes too.
      event: (event) => relay({ kind: 'event', holder, ...event }),
      id: (id) => relay({ kind: 'id', lastEventId: id }),
      // Only a stop for good (close() is not): every tab stops.
      stop: (error, failed) => relay({ kind: 'stop', error: error && fieldsOf(error), failed }),
    }
    const own = connect(href, { ...holderOptions, lastEventId, [kTap]: tap } as ClientOptions)
    inner = own
    own.addEventListener('open', () => relay({ kind: 'state', readyState: OPEN }))
    own.addEventListener('error', (error) => {
      // A stop is the tap's; an event a typed stream rejected leaves it OPEN.
      if (own.readyState === CLOSED) return
      relay({ kind: 'state', readyState: own.readyState })
      relay({ kind: 'error', error: fieldsOf(error) })
    })
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
      case 'want':
      case 'held':
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
    // The holder stops counting this tab as wanting the stream; a holding
    // tab lets the next one take over, with nothing else to tell.
    withdraw()
    closed = true
    readyState = CLOSED
    signal?.removeEventListener('abort', close)
    page?.removeEventListener('visibilitychange', onVisibility)
    view.removeEventListener?.('pagehide', withdraw)
    view.removeEventListener?.('pageshow', announce)
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
