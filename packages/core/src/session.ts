import { encode, encodeComment } from './encode'
import { SseError } from './errors'

/**
 * What an adapter gives a session: the transport's write, drain and close, and
 * one signal for "the client is gone". Nothing else about the framework leaks
 * into the core.
 */
export interface SseSink {
  /**
   * Writes bytes. Returns `false` when the transport's buffer is full: the
   * bytes were accepted, but the session queues what follows until `onDrain`.
   */
  write(chunk: Uint8Array): boolean
  /** Calls `listener` once, the next time the transport can take more. */
  onDrain(listener: () => void): void
  /** Ends the response. Must be safe to call more than once. */
  close(): void
  /** Aborts when the client disconnects. */
  readonly signal: AbortSignal
}

/** What to do with a client that reads slower than the server sends. */
export type SlowClientPolicy = 'close' | 'drop-oldest'

/** Passed to `onSlowClient` when a session's queue goes past `maxQueueBytes`. */
export interface SlowClientInfo {
  /** Bytes waiting for the transport when the bound was crossed. */
  queuedBytes: number
  /** The policy applied. */
  policy: SlowClientPolicy
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
   * Milliseconds of silence after which a comment is written so proxies keep
   * the connection open (most idle timeouts are 60 s or more); every write
   * restarts the count. `false` turns it off.
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
   * oldest queued frames.
   *
   * @defaultValue 'close'
   */
  slowClient?: SlowClientPolicy
  /** Called when a session crosses `maxQueueBytes`, before the policy applies. */
  onSlowClient?: (session: Session, info: SlowClientInfo) => void
}

/** Options for {@link Session.send}. */
export interface SendOptions {
  /** The event type; a listener for it receives the event. */
  event?: string
  /** The event id; the client sends it back as `Last-Event-ID`. */
  id?: string
  /** A new reconnection delay for the client, in milliseconds. */
  retry?: number
}

/** Options for {@link Session.pipe}. */
export interface PipeOptions {
  /** The event type of every piped item. */
  event?: string
  /** Close the session when the source ends. @defaultValue false */
  close?: boolean
}

/** One open event stream to one client. */
export interface Session {
  /** The `Last-Event-ID` the client reconnected with, if any. */
  readonly lastEventId: string | undefined
  /** Aborts when the session closes, whoever closed it. */
  readonly signal: AbortSignal
  /** `true` once the client left or `close()` was called. */
  readonly closed: boolean
  /** Bytes queued behind a full transport. */
  readonly queuedBytes: number
  /**
   * Serializes and sends one event. Returns `false`, and writes nothing, when
   * the session is closed (or the frame was dropped by the slow-client policy).
   */
  send(data: unknown, options?: SendOptions): boolean
  /** Sends a comment line (clients ignore it). Returns `false` when closed. */
  comment(text: string): boolean
  /** Writes an already encoded frame (the encode-once broadcast path). */
  write(frame: Uint8Array): boolean
  /**
   * Sends every item of `source` as an event, waiting for the transport when
   * it is full. Resolves `true` when the source ended, `false` when the client
   * left first (the source is then cancelled).
   */
  pipe(
    source: AsyncIterable<unknown> | ReadableStream<unknown>,
    options?: PipeOptions,
  ): Promise<boolean>
  /** Ends the stream. Idempotent. */
  close(): void
}

const textEncoder = /* @__PURE__ */ new TextEncoder()

/** Strings as they are, anything else as JSON. */
export function defaultSerialize(data: unknown): string {
  if (typeof data === 'string') return data
  const json = JSON.stringify(data)
  if (json === undefined) {
    throw new TypeError(`Cannot send ${typeof data} as SSE data: it has no JSON form`)
  }
  return json
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
  const serialize = options.serialize ?? defaultSerialize
  const maxQueueBytes = options.maxQueueBytes ?? 1_048_576
  const policy = options.slowClient ?? 'close'
  const heartbeatMs = options.heartbeat ?? 15_000
  const retry = options.retry ?? 2000
  if (heartbeatMs !== false && !(heartbeatMs > 0)) {
    throw new TypeError('createSession: `heartbeat` must be a positive number of ms or false')
  }
  if (!(maxQueueBytes > 0)) throw new TypeError('createSession: `maxQueueBytes` must be positive')

  const controller = new AbortController()
  let closed = false
  // Frames waiting for the transport; `head` makes shifting O(1).
  let queue: Uint8Array[] = []
  let head = 0
  let queuedBytes = 0
  let waitingForDrain = false
  let drainWaiters: Array<() => void> = []
  let lastWrite = 0
  let heartbeatTimer: ReturnType<typeof setTimeout> | undefined

  const onClientGone = (): void => session.close()

  function transportWrite(frame: Uint8Array): void {
    lastWrite = Date.now()
    let accepted: boolean
    try {
      accepted = sink.write(frame)
    } catch (error) {
      // A transport that throws is gone; closing is the only safe answer.
      close(error)
      return
    }
    if (!accepted && !closed) {
      waitingForDrain = true
      sink.onDrain(flush)
    }
  }

  function flush(): void {
    waitingForDrain = false
    while (head < queue.length && !waitingForDrain && !closed) {
      const frame = queue[head]!
      queue[head++] = EMPTY
      queuedBytes -= frame.byteLength
      transportWrite(frame)
    }
    if (head === queue.length) {
      queue = []
      head = 0
    }
    if (!waitingForDrain) {
      const waiters = drainWaiters
      drainWaiters = []
      for (const wake of waiters) wake()
    }
  }

  function enqueue(frame: Uint8Array): boolean {
    if (queuedBytes + frame.byteLength > maxQueueBytes) {
      const info: SlowClientInfo = { queuedBytes, policy, dropped: 0 }
      if (policy === 'close') {
        options.onSlowClient?.(session, info)
        close(new SseError('SSE_QUEUE_OVERFLOW', 'Slow client closed: queue bound exceeded'))
        return false
      }
      while (head < queue.length && queuedBytes + frame.byteLength > maxQueueBytes) {
        queuedBytes -= queue[head]!.byteLength
        queue[head++] = EMPTY
        info.dropped++
      }
      if (frame.byteLength > maxQueueBytes) info.dropped++
      options.onSlowClient?.(session, info)
      if (frame.byteLength > maxQueueBytes) return false
    }
    queue.push(frame)
    queuedBytes += frame.byteLength
    return true
  }

  function write(frame: Uint8Array): boolean {
    if (closed) return false
    if (waitingForDrain) return enqueue(frame)
    transportWrite(frame)
    return !closed
  }

  function armHeartbeat(delay: number): void {
    heartbeatTimer = setTimeout(beat, delay)
    // Do not keep a process alive just for heartbeats (Node, Bun, Deno).
    ;(heartbeatTimer as { unref?: () => void }).unref?.()
  }

  function beat(): void {
    if (closed || heartbeatMs === false) return
    const idle = Date.now() - lastWrite
    if (idle >= heartbeatMs) {
      write(HEARTBEAT)
      armHeartbeat(heartbeatMs)
    } else {
      armHeartbeat(heartbeatMs - idle)
    }
  }

  function close(_reason?: unknown): void {
    if (closed) return
    closed = true
    if (heartbeatTimer !== undefined) clearTimeout(heartbeatTimer)
    heartbeatTimer = undefined
    sink.signal.removeEventListener('abort', onClientGone)
    queue = []
    head = 0
    queuedBytes = 0
    const waiters = drainWaiters
    drainWaiters = []
    for (const wake of waiters) wake()
    try {
      sink.close()
    } finally {
      controller.abort()
    }
  }

  /** Resolves when the transport can take more (at once if it can now). */
  function ready(): Promise<void> {
    if (!waitingForDrain || closed) return Promise.resolve()
    return new Promise((resolve) => drainWaiters.push(resolve))
  }

  async function pipe(
    source: AsyncIterable<unknown> | ReadableStream<unknown>,
    pipeOptions: PipeOptions = {},
  ): Promise<boolean> {
    const iterator = toAsyncIterator(source)
    const sendOptions: SendOptions =
      pipeOptions.event === undefined ? {} : { event: pipeOptions.event }
    let leftEarly = true
    let onGone: (() => void) | undefined
    const gone = new Promise<IteratorResult<unknown>>((resolve) => {
      onGone = () => resolve({ done: true, value: undefined })
      if (closed) onGone()
      else controller.signal.addEventListener('abort', onGone, { once: true })
    })
    try {
      while (!closed) {
        // Race the source against disconnect: a source stuck waiting for its
        // next item must not keep a gone client's session alive.
        const result = await Promise.race([iterator.next(), gone])
        if (result.done) {
          leftEarly = closed
          break
        }
        session.send(result.value, sendOptions)
        await ready()
      }
    } finally {
      controller.signal.removeEventListener('abort', onGone!)
      // Not awaited: an async generator suspended in an await only runs its
      // `finally` once that await settles, which may be never. A rejection
      // here is the abandoned source's own failure, with no one left to tell.
      if (leftEarly) Promise.resolve(iterator.return?.()).catch(() => undefined)
    }
    if (!leftEarly && pipeOptions.close === true) close()
    return !leftEarly
  }

  const session: Session = {
    lastEventId: options.lastEventId,
    signal: controller.signal,
    get closed() {
      return closed
    },
    get queuedBytes() {
      return queuedBytes
    },
    send(data, sendOptions) {
      if (closed) return false
      const frame = encode({
        data: serialize(data),
        event: sendOptions?.event,
        id: sendOptions?.id,
        retry: sendOptions?.retry,
      } as Parameters<typeof encode>[0])
      return write(textEncoder.encode(frame))
    },
    comment(text) {
      if (closed) return false
      return write(textEncoder.encode(encodeComment(text)))
    },
    write,
    pipe,
    close: () => close(),
  }

  if (sink.signal.aborted) {
    close()
    return session
  }
  sink.signal.addEventListener('abort', onClientGone, { once: true })
  if (retry !== false) write(textEncoder.encode(encode({ retry })))
  if (heartbeatMs !== false) armHeartbeat(heartbeatMs)
  return session
}

const EMPTY = new Uint8Array(0)
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
