import { encode, encodeComment, encodeSend, utf8Length } from './encode'
import { SseError } from './errors'
import type { EventMap, EventName, TypedArgs } from './events'
import { type Counters, countersOf, type Instrumentation } from './instrumentation'

/**
 * What an adapter gives a session: the transport's write, drain and close, and
 * one signal for "the client is gone". Nothing else about the framework leaks
 * into the core.
 */
export interface SseSink {
  /**
   * Writes a frame: text (to be sent as UTF-8) or bytes. A session's own
   * `send` and `comment` hand over text, so a transport that can write a
   * string (a Node socket) pays no `TextEncoder` copy per event; broadcasts
   * and queued frames come as bytes. Returns `false` when the transport's
   * buffer is full: the frame was accepted, but the session queues what
   * follows until `onDrain`.
   */
  write(chunk: string | Uint8Array): boolean
  /** Calls `listener` once, the next time the transport can take more. */
  onDrain(listener: () => void): void
  /** Ends the response. Must be safe to call more than once. */
  close(): void
  /** Aborts when the client disconnects. Give this or `onClientGone`. */
  readonly signal?: AbortSignal
  /**
   * A lighter alternative to `signal` (no AbortController per connection):
   * calls `listener` once when the client disconnects, or at once if it
   * already has.
   */
  onClientGone?(listener: () => void): void
}

/**
 * Why a session closed: `client` (it disconnected), `server` (`close()` was
 * called, by the application or a hub shutting down), `slow-client` (the
 * `close` policy), `lifetime` (`maxLifetime` ran out), `drain` (a drainer
 * or `hub.drain` ended it to shut down gracefully), `error` (the
 * transport failed, or the binding's handler threw or rejected; the error
 * is in `closeCause`).
 */
export type CloseReason = 'client' | 'server' | 'slow-client' | 'lifetime' | 'drain' | 'error'

/**
 * What to do with a client that reads slower than the server sends:
 * `close` it, `drop-oldest` queued frames, or `conflate` keyed events (a
 * queued event is replaced by a newer one with the same key; see
 * {@link SessionOptions.slowClient}).
 */
export type SlowClientPolicy = 'close' | 'drop-oldest' | 'conflate'

/** What `conflate` does when conflation alone cannot keep the queue under its bound. */
export type ConflateFallback = 'close' | 'drop-oldest'

/** Passed to `onSlowClient` when a session's queue goes past `maxQueueBytes`. */
export interface SlowClientInfo {
  /** Bytes waiting for the transport when the bound was crossed. */
  queuedBytes: number
  /**
   * What was done: `close` or `drop-oldest` (with the `conflate` policy,
   * its `conflateFallback`).
   */
  policy: ConflateFallback
  /** Frames dropped (`drop-oldest`), or 0 when the session was closed. */
  dropped: number
}

/** Options for {@link createSession}; adapters pass them through. */
export interface SessionOptions {
  /** The client's `Last-Event-ID`, already validated (see {@link readLastEventId}). */
  lastEventId?: string | undefined
  /**
   * The reconnection delay sent to the client when the stream opens, or
   * `false` to send none.
   *
   * @defaultValue 2000
   */
  retry?: number | false
  /**
   * The longest the stream stays silent, in milliseconds: when nothing else
   * was written, a comment is, so proxies keep the connection open (most idle
   * timeouts are 60 s or more). A busy stream sends none. `false` turns it off.
   *
   * @defaultValue 15000
   */
  heartbeat?: number | false
  /**
   * Turns `send`'s data into text. Lines breaks in the result are safe: the
   * encoder splits them into `data:` lines.
   *
   * @defaultValue strings as they are, anything else through `JSON.stringify`
   */
  serialize?: (data: unknown) => string
  /**
   * The most bytes one session may queue while its transport is full; past
   * it, `slowClient` applies. Memory per slow client stays under this bound
   * plus the transport's own buffer.
   *
   * @defaultValue 1_048_576
   */
  maxQueueBytes?: number
  /**
   * `close` disconnects a client that falls behind (it reconnects and catches
   * up through Last-Event-ID replay); `drop-oldest` keeps it and discards the
   * oldest queued frames; `conflate` keeps it and, while frames are queued,
   * lets an event sent with a `key` replace the queued event with the same
   * key, so a client that falls behind gets the newest value of every key.
   * The replacement goes to the end of the queue, so ids still only grow.
   * Past the bound (unkeyed events, or more keys than fit), the
   * `conflateFallback` applies.
   *
   * @defaultValue 'close'
   */
  slowClient?: SlowClientPolicy
  /**
   * With `slowClient: 'conflate'`: what happens when the queue still goes
   * past `maxQueueBytes`.
   *
   * @defaultValue 'close'
   */
  conflateFallback?: ConflateFallback
  /**
   * Called when a session's queue crosses `maxQueueBytes`, before the policy
   * applies: once per crossing. With `drop-oldest` the queue stays at the
   * bound while the client is behind; the next call comes only after it has
   * caught up (its queue emptied) and fallen behind again.
   */
  onSlowClient?: (session: Session, info: SlowClientInfo) => void
  /**
   * Closes the stream after this many ms (the client reconnects with its
   * Last-Event-ID), e.g. to rebalance connections after a deploy or to
   * re-check credentials. Off by default.
   */
  maxLifetime?: number
  /**
   * The fraction of `maxLifetime` taken off at random per session, so clients
   * that connected together do not all reconnect together.
   *
   * @defaultValue 0.2
   */
  lifetimeJitter?: number
  /**
   * Counts this session's stream, frames, bytes, queue and slow-client
   * actions (see `createInstrumentation`; `@sse/opentelemetry` exports it).
   */
  instrumentation?: Instrumentation
}

/** Options for {@link Session.send}. */
export interface SendOptions {
  /** The event type; a listener for it receives the event. */
  event?: string
  /** The event id; the client sends it back as `Last-Event-ID`. */
  id?: string
  /** A new reconnection delay for the client, in milliseconds. */
  retry?: number
  /**
   * The conflation key (with `slowClient: 'conflate'`): while this event is
   * queued behind a slow transport, a newer event with the same key
   * replaces it. Never sent to the client.
   */
  key?: string
}

/** Options for {@link Session.pipe}. */
export interface PipeOptions {
  /** The event type of every piped item. */
  event?: string
  /** Close the session when the source ends. @defaultValue false */
  close?: boolean
}

/**
 * One open event stream to one client. With an event map (`Session<Events>`,
 * see `EventMap`), `send` checks event names and data.
 */
export interface Session<E extends EventMap = EventMap> {
  /** The `Last-Event-ID` the client reconnected with, if any. */
  readonly lastEventId: string | undefined
  /** Aborts when the session closes, whoever closed it; its `reason` is the {@link CloseReason}. */
  readonly signal: AbortSignal
  /** Why the session closed, once it has. */
  readonly closeReason: CloseReason | undefined
  /** With `closeReason` `error`: what the transport threw. */
  readonly closeCause: unknown
  /** `true` once the client left or `close()` was called. */
  readonly closed: boolean
  /** Bytes queued behind a full transport. */
  readonly queuedBytes: number
  /**
   * Serializes and sends one event. Returns `false`, and writes nothing, when
   * the session is closed (or the frame was dropped by the slow-client policy).
   */
  send<K extends EventName<E>>(data: E[K], ...options: TypedArgs<E, K, SendOptions>): boolean
  /** Sends a comment line (clients ignore it). Returns `false` when closed. */
  comment(text: string): boolean
  /**
   * Writes an already encoded frame (the encode-once broadcast path); `key`
   * lets the frame conflate (see {@link SendOptions.key}).
   */
  write(frame: Uint8Array, key?: string): boolean
  /**
   * Sends every item of `source` as an event, waiting for the transport when
   * it is full. Resolves `true` when the source ended, `false` when the client
   * left first (the source is then cancelled).
   */
  pipe(
    source: AsyncIterable<unknown> | ReadableStream<unknown>,
    options?: PipeOptions,
  ): Promise<boolean>
  /**
   * Ends the stream. Frames already accepted by `send`/`write` but still
   * queued behind a full transport are delivered first. Idempotent.
   */
  close(): void
}

const textEncoder = /* @__PURE__ */ new TextEncoder()

/** Strings as they are, anything else as JSON. */
export function defaultSerialize(data: unknown): string {
  if (typeof data === 'string') return data
  const json = JSON.stringify(data)
  if (json === undefined) {
    throw new SseError(
      'SSE_INVALID_DATA',
      `Cannot send ${typeof data} as SSE data: it has no JSON form`,
    )
  }
  return json
}

/**
 * Internal: runs a serializer, turning whatever it throws (a BigInt, a
 * cycle) or a non-string result into one `SSE_INVALID_DATA` error.
 */
export function serializeData(serialize: (data: unknown) => string, data: unknown): string {
  let text: unknown
  try {
    text = serialize(data)
  } catch (error) {
    if (error instanceof SseError) throw error
    throw new SseError(
      'SSE_INVALID_DATA',
      `Cannot send ${typeof data} as SSE data: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    )
  }
  if (typeof text !== 'string') {
    throw new SseError('SSE_INVALID_DATA', `serialize returned ${typeof text}, not a string`)
  }
  return text
}

/**
 * Opens an event stream over an adapter's sink: writes the `retry` hint,
 * starts the heartbeat and applies the backpressure policy. Adapters call
 * this; applications get the session from their adapter's handler.
 *
 * @example
 * ```ts
 * const session = createSession(sink, { heartbeat: 30_000 })
 * session.send({ hello: 'world' }, { event: 'greeting' })
 * ```
 */
export function createSession(sink: SseSink, options: SessionOptions = {}): Session {
  return new SseSession(sink, resolveSessionOptions(options), options.lastEventId)
}

/** Internal: {@link SessionOptions} checked once, defaults filled in. */
export interface ResolvedSessionOptions {
  readonly retry: number | false
  /** The `retry:` frame every session of these options starts with, encoded once. */
  readonly retryFrame: Uint8Array | undefined
  readonly heartbeat: number | false
  readonly serialize: (data: unknown) => string
  readonly maxQueueBytes: number
  readonly slowClient: SlowClientPolicy
  readonly conflateFallback: ConflateFallback
  readonly onSlowClient: ((session: Session, info: SlowClientInfo) => void) | undefined
  readonly maxLifetime: number | undefined
  readonly lifetimeJitter: number
  readonly counters: Counters | undefined
  /**
   * The heartbeat checks of every session of these options, on one timer;
   * `undefined` without a heartbeat, or where a timer must not serve several
   * requests (each session then has a queue of its own).
   */
  readonly beats: BeatQueue | undefined
}

/**
 * Internal: validates session options, throwing a `TypeError` that names the
 * option, and fills in the defaults. Bindings call it once per route, not
 * once per connection.
 */
export function resolveSessionOptions(options: SessionOptions): ResolvedSessionOptions {
  const {
    heartbeat = 15_000,
    maxQueueBytes = 1_048_576,
    retry = 2000,
    slowClient = 'close',
    conflateFallback = 'close',
    onSlowClient,
    serialize = defaultSerialize,
    maxLifetime,
    lifetimeJitter = 0.2,
  } = options
  if (heartbeat !== false && !(typeof heartbeat === 'number' && heartbeat > 0)) {
    throw new TypeError('createSession: `heartbeat` must be a positive number of ms or false')
  }
  if (!(typeof maxQueueBytes === 'number' && maxQueueBytes > 0)) {
    throw new TypeError('createSession: `maxQueueBytes` must be positive')
  }
  if (retry !== false && !(Number.isInteger(retry) && retry >= 0)) {
    throw new TypeError('createSession: `retry` must be a non-negative integer of ms or false')
  }
  if (slowClient !== 'close' && slowClient !== 'drop-oldest' && slowClient !== 'conflate') {
    throw new TypeError(
      `createSession: \`slowClient\` must be 'close', 'drop-oldest' or 'conflate', got ${JSON.stringify(slowClient)}`,
    )
  }
  if (conflateFallback !== 'close' && conflateFallback !== 'drop-oldest') {
    throw new TypeError(
      `createSession: \`conflateFallback\` must be 'close' or 'drop-oldest', got ${JSON.stringify(conflateFallback)}`,
    )
  }
  if (options.conflateFallback !== undefined && slowClient !== 'conflate') {
    throw new TypeError("createSession: `conflateFallback` needs `slowClient: 'conflate'`")
  }
  if (onSlowClient !== undefined && typeof onSlowClient !== 'function') {
    throw new TypeError('createSession: `onSlowClient` must be a function')
  }
  if (typeof serialize !== 'function') {
    throw new TypeError('createSession: `serialize` must be a function (data) => string')
  }
  if (maxLifetime !== undefined && !(typeof maxLifetime === 'number' && maxLifetime > 0)) {
    throw new TypeError('createSession: `maxLifetime` must be a positive number of ms')
  }
  if (!(typeof lifetimeJitter === 'number' && lifetimeJitter >= 0 && lifetimeJitter <= 1)) {
    throw new TypeError('createSession: `lifetimeJitter` must be between 0 and 1')
  }
  return {
    retry,
    retryFrame: retry === false ? undefined : textEncoder.encode(encode({ retry })),
    heartbeat,
    serialize,
    maxQueueBytes,
    slowClient,
    conflateFallback,
    onSlowClient,
    maxLifetime,
    lifetimeJitter,
    counters: countersOf(options.instrumentation, 'createSession'),
    beats: heartbeat === false || !timersServeAnyRequest() ? undefined : new BeatQueue(),
  }
}

/**
 * Internal: creates a session from options already resolved (see
 * {@link resolveSessionOptions}), so a binding does not check them again
 * for every connection.
 */
export function openSession(
  sink: SseSink,
  options: ResolvedSessionOptions,
  lastEventId: string | undefined,
): Session {
  return new SseSession(sink, options, lastEventId)
}

/**
 * Internal: lets a hub learn that a session closed without an AbortSignal
 * listener per membership (EventTarget listeners cost memory). The listener
 * gets the session, so one function can serve every session.
 */
export const kOnClose: unique symbol = Symbol('sse.onClose')

/** Internal: removes a listener added with {@link kOnClose}. */
export const kOffClose: unique symbol = Symbol('sse.offClose')

/** Internal: what {@link kOnClose} calls. */
export type CloseListener = (session: Session) => void

/** Internal: the close hooks a session made by {@link createSession} has. */
export interface CloseHooks {
  [kOnClose](listener: CloseListener): void
  [kOffClose](listener: CloseListener): void
}

/**
 * Internal: closes a session with a reason other than `server` (a binding
 * closing it because its handler failed passes `error` and the failure).
 */
export const kClose: unique symbol = Symbol('sse.close')

/** Internal: runs a session's heartbeat check (its {@link BeatQueue} calls it when due). */
const kBeat: unique symbol = Symbol('sse.beat')

// A class, not a closure bag: thousands of sessions share one set of methods,
// so each session is a small object and a broadcast loop touches less memory.
// Made in a pure-annotated function: its symbol-named members (computed
// keys) make a class declaration look side-effectful to bundlers, which would
// then keep every session (and the encoder) in a client that only parses.
const SseSession = /* @__PURE__ */ (() =>
  class SseSession implements Session {
    readonly lastEventId: string | undefined
    readonly #sink: SseSink
    // Shared by every session of a route: settings are read from it, not
    // copied into each session (an idle stream's size is what 10,000 cost).
    readonly #options: ResolvedSessionOptions
    #closed = false
    #controller: AbortController | undefined
    // Most sessions have one close listener (their hub): kept bare, not in an array.
    #closeListeners: CloseListener | CloseListener[] | undefined
    // Set while the transport is full, with what waits for it.
    #waitingForDrain = false
    #backlog: Backlog | undefined
    // When the first write since the heartbeat's last check was (ms on
    // `clock()`), or -1: nothing written since.
    #firstWriteAt = -1
    // Its place in the route's heartbeat queue, made on first use and reused.
    #beatEntry: BeatEntry | undefined
    #lifetimeTimer: ReturnType<typeof setTimeout> | undefined
    #closeReason: CloseReason | undefined
    #closeCause: unknown
    readonly #onClientGone = (): void => this.#end(false, 'client')
    readonly #counters: Counters | undefined
    #openedAt = 0

    constructor(sink: SseSink, options: ResolvedSessionOptions, lastEventId: string | undefined) {
      this.lastEventId = lastEventId
      this.#sink = sink
      this.#options = options
      if (sink.onClientGone === undefined && sink.signal === undefined) {
        throw new TypeError('createSession: the sink needs `signal` or `onClientGone`')
      }
      const counters = options.counters
      this.#counters = counters
      if (counters !== undefined) {
        this.#openedAt = Date.now()
        counters.streamOpened()
      }
      const { retryFrame, heartbeat: heartbeatMs, maxLifetime, lifetimeJitter } = options

      if (sink.onClientGone !== undefined) {
        sink.onClientGone(this.#onClientGone)
        if (this.#closed) return
      } else if (sink.signal !== undefined) {
        if (sink.signal.aborted) {
          this.#end(false, 'client')
          return
        }
        sink.signal.addEventListener('abort', this.#onClientGone, { once: true })
      }
      if (retryFrame !== undefined) this.write(retryFrame)
      if (heartbeatMs !== false) this.#armHeartbeat(heartbeatMs)
      if (maxLifetime !== undefined) {
        const lifetime = maxLifetime * (1 - lifetimeJitter * Math.random())
        this.#lifetimeTimer = backgroundTimer(() => this.#end(true, 'lifetime'), lifetime)
      }
    }

    get signal(): AbortSignal {
      // Created on first use: most sessions in a hub never need their own. Its
      // abort reason is the close reason.
      if (this.#controller === undefined) {
        this.#controller = new AbortController()
        if (this.#closed) this.#controller.abort(this.#closeReason)
      }
      return this.#controller.signal
    }

    get closeReason(): CloseReason | undefined {
      return this.#closeReason
    }

    get closeCause(): unknown {
      return this.#closeCause
    }

    get closed(): boolean {
      return this.#closed
    }

    get queuedBytes(): number {
      return this.#backlog?.bytes ?? 0
    }

    send(data: unknown, options?: SendOptions): boolean {
      if (this.#closed) return false
      const key = options?.key
      if (key !== undefined && typeof key !== 'string') {
        throw new TypeError('send: `key` must be a string')
      }
      // JSON.stringify escapes every control character, so its output has no
      // line break to split: only other serializers' text is scanned.
      const serialize = this.#options.serialize
      const json = serialize === defaultSerialize && typeof data !== 'string'
      const frame = encodeSend(
        serializeData(serialize, data),
        json,
        options?.event,
        options?.id,
        options?.retry,
      )
      return this.#write(frame, key)
    }

    comment(text: string): boolean {
      if (this.#closed) return false
      return this.#write(encodeComment(text), undefined)
    }

    write(frame: Uint8Array, key?: string): boolean {
      return this.#write(frame, key)
    }

    /** A frame as text goes to the transport as it is; only a queued one is encoded. */
    #write(frame: string | Uint8Array, key: string | undefined): boolean {
      if (this.#closed) return false
      if (this.#waitingForDrain) {
        return this.#enqueue(typeof frame === 'string' ? textEncoder.encode(frame) : frame, key)
      }
      this.#transportWrite(frame)
      return !this.#closed
    }

    async pipe(
      source: AsyncIterable<unknown> | ReadableStream<unknown>,
      pipeOptions: PipeOptions = {},
    ): Promise<boolean> {
      const iterator = toAsyncIterator(source)
      const sendOptions: SendOptions =
        pipeOptions.event === undefined ? {} : { event: pipeOptions.event }
      let leftEarly = true
      let onGone: CloseListener = noop
      const gone = new Promise<IteratorResult<unknown>>((resolve) => {
        onGone = () => resolve({ done: true, value: undefined })
        this[kOnClose](onGone)
      })
      try {
        while (!this.#closed) {
          // Race the source against disconnect: a source stuck waiting for its
          // next item must not keep a gone client's session alive.
          const result = await Promise.race([iterator.next(), gone])
          if (result.done) {
            leftEarly = this.#closed
            break
          }
          this.send(result.value, sendOptions)
          await this.#ready()
        }
      } finally {
        this[kOffClose](onGone)
        // Not awaited: an async generator suspended in an await only runs its
        // `finally` once that await settles, which may be never. A rejection
        // here is the abandoned source's own failure, with no one left to tell.
        if (leftEarly) Promise.resolve(iterator.return?.()).catch(() => undefined)
      }
      if (!leftEarly && pipeOptions.close === true) this.close()
      return !leftEarly
    }

    close(): void {
      this.#end(true, 'server')
    }

    /**
     * Ends the stream. `deliver`: hand what is still queued to the transport
     * first (it buffers it; the queue is bounded by `maxQueueBytes`), so frames
     * `send` accepted before an application's `close()` are not lost. A client
     * that is gone, or too slow to keep, gets nothing more.
     */
    #end(deliver: boolean, reason: CloseReason, cause?: unknown): void {
      if (this.#closed) return
      this.#closed = true
      this.#closeReason = reason
      this.#closeCause = cause
      const backlog = this.#backlog
      this.#backlog = undefined
      if (deliver && backlog !== undefined && backlog.bytes > 0) {
        const frames = backlog.frames
        try {
          for (let i = backlog.head; i < frames.length; i++) {
            if (frames[i] !== EMPTY) this.#sink.write(frames[i]!)
          }
        } catch {
          // The transport broke while taking the rest: it is gone, and so are they.
        }
      }
      if (this.#beatEntry !== undefined) this.#beatEntry.queue.remove(this.#beatEntry)
      if (this.#lifetimeTimer !== undefined) clearTimeout(this.#lifetimeTimer)
      this.#lifetimeTimer = undefined
      this.#sink.signal?.removeEventListener('abort', this.#onClientGone)
      const counters = this.#counters
      if (counters !== undefined) {
        if (backlog !== undefined) counters.queuedBytes -= backlog.bytes
        counters.streamClosed(reason, (Date.now() - this.#openedAt) / 1000)
      }
      wake(backlog?.drainWaiters)
      try {
        this.#sink.close()
      } finally {
        this.#controller?.abort(reason)
        const listeners = this.#closeListeners
        this.#closeListeners = undefined
        if (typeof listeners === 'function') listeners(this)
        else if (listeners !== undefined) for (const listener of listeners) listener(this)
      }
    }

    /** Internal: closes with `reason`, delivering what is queued first. */
    [kClose](reason: CloseReason, cause?: unknown): void {
      this.#end(true, reason, cause)
    }

    /** Internal: calls `listener(this)` once when the session closes (now, if it has). */
    [kOnClose](listener: CloseListener): void {
      if (this.#closed) {
        listener(this)
        return
      }
      const listeners = this.#closeListeners
      if (listeners === undefined) this.#closeListeners = listener
      else if (typeof listeners === 'function') this.#closeListeners = [listeners, listener]
      else listeners.push(listener)
    }

    /** Internal: removes a listener added with kOnClose (one registration of it). */
    [kOffClose](listener: CloseListener): void {
      const listeners = this.#closeListeners
      if (listeners === listener) this.#closeListeners = undefined
      else if (typeof listeners === 'object') {
        const index = listeners.indexOf(listener)
        if (index !== -1) listeners.splice(index, 1)
      }
    }

    #transportWrite(frame: string | Uint8Array): void {
      // The heartbeat only needs the first write since its last check: reading
      // the clock on every write would cost more than the rest of a send.
      if (this.#firstWriteAt === -1) this.#firstWriteAt = clock()
      const counters = this.#counters
      if (counters !== undefined) {
        counters.framesWritten++
        counters.bytesWritten += typeof frame === 'string' ? utf8Length(frame) : frame.byteLength
      }
      let accepted: boolean
      try {
        accepted = this.#sink.write(frame)
      } catch (error) {
        // A transport that throws is gone; closing is the only safe answer,
        // and the error stays readable as the reason.
        this.#end(false, 'error', error)
        return
      }
      if (!accepted && !this.#closed) {
        this.#waitingForDrain = true
        this.#backlog ??= new Backlog(this.#options.slowClient === 'conflate')
        this.#sink.onDrain(() => this.#flush())
      }
    }

    #flush(): void {
      this.#waitingForDrain = false
      const backlog = this.#backlog
      if (backlog === undefined) return
      while (backlog.head < backlog.frames.length && !this.#waitingForDrain && !this.#closed) {
        const frame = this.#shift(backlog)
        if (frame !== EMPTY) this.#transportWrite(frame)
      }
      if (this.#closed) return
      if (!this.#waitingForDrain) {
        // Everything taken and the transport not full: no backlog until it is again.
        this.#backlog = undefined
        wake(backlog.drainWaiters)
      } else if (backlog.head === backlog.frames.length) {
        // Emptied, though the transport filled again: a new crossing of the bound is reported anew.
        backlog.clear()
      }
    }

    /** Takes the oldest slot off the queue (a frame, or an EMPTY hole), counting it. */
    #shift(backlog: Backlog): Uint8Array {
      const frame = backlog.shift()
      if (frame !== EMPTY && this.#counters !== undefined) {
        this.#counters.queuedBytes -= frame.byteLength
      }
      return frame
    }

    /** Queues a frame while the transport is full (there is a backlog then). */
    #enqueue(frame: Uint8Array, key: string | undefined): boolean {
      const backlog = this.#backlog!
      const options = this.#options
      const conflate = options.slowClient === 'conflate'
      if (key !== undefined && conflate) {
        const replaced = backlog.take(key)
        if (replaced !== undefined && this.#counters !== undefined) {
          this.#counters.queuedBytes -= replaced.byteLength
          this.#counters.framesConflated++
        }
      }
      const bound = options.maxQueueBytes
      if (backlog.bytes + frame.byteLength > bound) {
        // Past the bound: the policy, or conflate's fallback.
        const policy = conflate
          ? options.conflateFallback
          : (options.slowClient as ConflateFallback)
        const info: SlowClientInfo = { queuedBytes: backlog.bytes, policy, dropped: 0 }
        if (policy === 'close') {
          this.#options.onSlowClient?.(this, info)
          this.#counters?.slowClient('close')
          this.#end(false, 'slow-client')
          return false
        }
        while (backlog.head < backlog.frames.length && backlog.bytes + frame.byteLength > bound) {
          if (this.#shift(backlog) !== EMPTY) info.dropped++
        }
        const tooLarge = frame.byteLength > bound
        if (tooLarge) info.dropped++
        if (this.#counters !== undefined) this.#counters.framesDropped += info.dropped
        if (!backlog.overBound) {
          backlog.overBound = true
          this.#options.onSlowClient?.(this, info)
          this.#counters?.slowClient('drop-oldest')
        }
        if (tooLarge) {
          backlog.compact()
          return false
        }
      }
      backlog.push(frame, key)
      if (this.#counters !== undefined) this.#counters.queuedBytes += frame.byteLength
      backlog.compact()
      return true
    }

    /** Resolves when the transport can take more (at once if it can now). */
    #ready(): Promise<void> {
      const backlog = this.#backlog
      if (!this.#waitingForDrain || this.#closed || backlog === undefined) return Promise.resolve()
      backlog.drainWaiters ??= []
      const waiters = backlog.drainWaiters
      return new Promise((resolve) => waiters.push(resolve))
    }

    #armHeartbeat(delay: number): void {
      this.#beatEntry ??= {
        due: 0,
        slot: -1,
        session: this,
        queue: this.#options.beats ?? new BeatQueue(),
      }
      this.#beatEntry.due = clock() + delay
      this.#beatEntry.queue.add(this.#beatEntry)
    }

    /** Internal: the heartbeat check, when the queue finds it due. */
    [kBeat](): void {
      this.#beat()
    }

    /**
     * Checks run at most `interval` apart. Something written since the last
     * check: the next one is `interval` after the first of those writes, which
     * is no later than `interval` after the last, so the stream is never silent
     * for longer than `interval` (a comment may follow an event sooner). Nothing
     * written: a comment now.
     */
    #beat(): void {
      const interval = this.#options.heartbeat
      if (this.#closed || interval === false) return
      const firstWriteAt = this.#firstWriteAt
      this.#firstWriteAt = -1
      if (firstWriteAt !== -1) {
        this.#armHeartbeat(Math.max(0, firstWriteAt + interval - clock()))
        return
      }
      this.write(HEARTBEAT)
      this.#firstWriteAt = -1
      if (!this.#closed) this.#armHeartbeat(interval)
    }
  })()

const noop = (): void => undefined

/** A session's place in its route's {@link BeatQueue}: reused from check to check. */
interface BeatEntry {
  /** When the check is due, in ms on `clock()`. */
  due: number
  /** Its index in the heap, or -1 while not queued. */
  slot: number
  readonly session: { [kBeat](): void }
  readonly queue: BeatQueue
}

/**
 * Whether one timer may check the sessions of many requests. Not on
 * Cloudflare Workers: a timer runs in the context of the request that set
 * it, and the I/O objects of one request (its response stream) must not be
 * used from another's.
 */
function timersServeAnyRequest(): boolean {
  const agent = (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent
  return agent !== 'Cloudflare-Workers'
}

/**
 * The heartbeat checks of every session of a route, on one timer: a min-heap
 * of entries by due time and one timeout for the earliest. A timeout and its
 * closure per session cost ~260 bytes of heap each (and new ones at every
 * check); an entry here ~50, made once. Each check still runs when it is
 * due, no earlier, as its own timer would have.
 */
class BeatQueue {
  readonly #heap: BeatEntry[] = []
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerDue = 0

  add(entry: BeatEntry): void {
    if (entry.slot !== -1) this.remove(entry)
    const heap = this.#heap
    entry.slot = heap.length
    heap.push(entry)
    this.#up(entry.slot)
    this.#arm()
  }

  remove(entry: BeatEntry): void {
    const slot = entry.slot
    if (slot === -1) return
    entry.slot = -1
    const heap = this.#heap
    const last = heap.pop()!
    if (last !== entry) {
      heap[slot] = last
      last.slot = slot
      this.#down(slot)
      this.#up(last.slot)
    }
    if (heap.length === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }

  /** Keeps the timer set for the earliest entry. */
  #arm(): void {
    const first = this.#heap[0]
    if (first === undefined) return
    if (this.#timer !== undefined) {
      if (this.#timerDue <= first.due) return
      clearTimeout(this.#timer)
    }
    this.#timerDue = first.due
    this.#timer = backgroundTimer(() => this.#fire(), Math.max(0, first.due - clock()))
  }

  #fire(): void {
    this.#timer = undefined
    const now = clock()
    const heap = this.#heap
    // Taken off first, then checked: a check queues its session again, and
    // that next check must wait for a later firing.
    const due: BeatEntry[] = []
    while (heap.length > 0 && heap[0]!.due <= now) {
      const entry = heap[0]!
      this.remove(entry)
      due.push(entry)
    }
    let failure: { error: unknown } | undefined
    for (const entry of due) {
      try {
        entry.session[kBeat]()
      } catch (error) {
        // One session's failure must not cost the others their heartbeat.
        failure ??= { error }
      }
    }
    this.#arm()
    if (failure !== undefined) throw failure.error
  }

  /** Moves the entry at `slot` towards the root while it is due before its parent. */
  #up(slot: number): void {
    const entry = this.#heap[slot]!
    while (slot > 0) {
      const parent = (slot - 1) >> 1
      if (this.#heap[parent]!.due <= entry.due) break
      this.#put(slot, this.#heap[parent]!)
      slot = parent
    }
    this.#put(slot, entry)
  }

  /** Moves the entry at `slot` towards the leaves while a child is due before it. */
  #down(slot: number): void {
    const heap = this.#heap
    const entry = heap[slot]!
    for (let child = 2 * slot + 1; child < heap.length; child = 2 * slot + 1) {
      if (child + 1 < heap.length && heap[child + 1]!.due < heap[child]!.due) child++
      if (entry.due <= heap[child]!.due) break
      this.#put(slot, heap[child]!)
      slot = child
    }
    this.#put(slot, entry)
  }

  #put(slot: number, entry: BeatEntry): void {
    this.#heap[slot] = entry
    entry.slot = slot
  }
}

/**
 * What a session keeps while its transport is full: the frames waiting for
 * it and who waits for it to drain. Made when a write first finds the
 * transport full and dropped once the transport took everything, so a
 * session that keeps up (most of them, most of the time) carries none of it.
 */
class Backlog {
  // Frames in order; `head` makes shifting O(1).
  frames: Uint8Array[] = []
  head = 0
  bytes = 0
  // Conflate only: the key of each slot (parallel to `frames`), and the slot
  // of each key. A replaced frame leaves an EMPTY hole.
  slotKeys: Array<string | undefined> | undefined
  keySlots: Map<string, number> | undefined
  holes = 0
  // Set when the queue crossed `maxQueueBytes` (drop-oldest), and gone with
  // the backlog once it empties: `onSlowClient` reports each crossing once.
  overBound = false
  drainWaiters: Array<() => void> | undefined

  constructor(conflate: boolean) {
    if (conflate) {
      this.slotKeys = []
      this.keySlots = new Map()
    }
  }

  /** Queues `frame` last; under conflation, under its `key` too. */
  push(frame: Uint8Array, key: string | undefined): void {
    this.frames.push(frame)
    this.bytes += frame.byteLength
    if (this.slotKeys !== undefined) {
      this.slotKeys.push(key)
      if (key !== undefined) this.keySlots!.set(key, this.frames.length - 1)
    }
  }

  /** Takes the oldest slot off the queue: a frame, or an EMPTY hole. */
  shift(): Uint8Array {
    const slot = this.head++
    const frame = this.frames[slot]!
    this.frames[slot] = EMPTY
    if (frame === EMPTY) {
      this.holes--
      return frame
    }
    this.bytes -= frame.byteLength
    const key = this.slotKeys?.[slot]
    if (key !== undefined) {
      this.slotKeys![slot] = undefined
      this.keySlots!.delete(key)
    }
    return frame
  }

  /** Conflate: takes out the queued frame with this key (leaving a hole), if there is one. */
  take(key: string): Uint8Array | undefined {
    const slot = this.keySlots!.get(key)
    if (slot === undefined) return undefined
    const frame = this.frames[slot]!
    this.frames[slot] = EMPTY
    this.slotKeys![slot] = undefined
    this.keySlots!.delete(key)
    this.bytes -= frame.byteLength
    this.holes++
    return frame
  }

  clear(): void {
    this.frames = []
    this.head = 0
    this.holes = 0
    if (this.slotKeys !== undefined) this.slotKeys = []
    this.keySlots?.clear()
    this.overBound = false
  }

  /**
   * Drops the dead slots (in front of `head`, and holes left by conflation)
   * once they are most of the array. A queue that never drains (a stalled
   * client under drop-oldest or conflate) would otherwise keep one slot per
   * frame ever sent, however few bytes it holds. Amortized O(1): each copy
   * moves at most as many live frames as there were dead slots.
   */
  compact(): void {
    const dead = this.head + this.holes
    if (dead < 64 || dead * 2 < this.frames.length) return
    const frames = this.frames
    const keys = this.slotKeys
    const live: Uint8Array[] = []
    const liveKeys: Array<string | undefined> | undefined = keys === undefined ? undefined : []
    this.keySlots?.clear()
    for (let slot = this.head; slot < frames.length; slot++) {
      const frame = frames[slot]!
      if (frame === EMPTY) continue
      live.push(frame)
      if (liveKeys !== undefined) {
        const key = keys![slot]
        liveKeys.push(key)
        if (key !== undefined) this.keySlots!.set(key, live.length - 1)
      }
    }
    this.frames = live
    this.slotKeys = liveKeys
    this.head = 0
    this.holes = 0
  }
}

function wake(waiters: Array<() => void> | undefined): void {
  if (waiters !== undefined) for (const resolve of waiters) resolve()
}

// Milliseconds since this module loaded, as an integer V8 keeps in the
// session itself: `Date.now()` (past 2^31), or a difference of two doubles
// without `Math.floor`, is stored boxed, a heap number per session (16 bytes
// each, in heap snapshots). Past 2^31 ms (24 days) it is boxed again, still right.
const clockBase = /* @__PURE__ */ Date.now()
const clock = (): number => Math.floor(Date.now() - clockBase)

/**
 * Internal: a timeout that does not keep the process alive on its own
 * (`unref` where the runtime has it: Node, Bun, Deno). Heartbeats, lifetimes
 * and delivery timeouts must never hold a server open after everything else
 * has stopped.
 */
export function backgroundTimer(callback: () => void, ms: number): ReturnType<typeof setTimeout> {
  const timer = setTimeout(callback, ms)
  ;(timer as { unref?: () => void }).unref?.()
  return timer
}
const EMPTY = /* @__PURE__ */ new Uint8Array(0)
const HEARTBEAT = /* @__PURE__ */ textEncoder.encode(':\n')

function toAsyncIterator(
  source: AsyncIterable<unknown> | ReadableStream<unknown>,
): AsyncIterator<unknown> {
  if (Symbol.asyncIterator in source)
    return (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
  // ReadableStream without async iteration (older Safari): drive the reader.
  const reader = (source as ReadableStream<unknown>).getReader()
  return {
    next: () => reader.read() as Promise<IteratorResult<unknown>>,
    return: async () => {
      await reader.cancel()
      return { done: true, value: undefined }
    },
  }
}
