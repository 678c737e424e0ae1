/** An event as a store keeps it: data already serialized, id assigned by the store. */
export interface StoredEvent {
  /** The store-assigned id; opaque, ordered within its stream. */
  id: string
  /** The serialized data. */
  data: string
  /** The event type, if any. */
  event?: string | undefined
}

/** The result of {@link EventStore.readAfter}. */
export type ReadAfterResult =
  | { gap: false; events: StoredEvent[] }
  /**
   * The id cannot be resumed from: `expired` when it fell out of retention,
   * `unknown` when the store never issued it (another epoch, a forged id).
   */
  | { gap: true; reason: 'expired' | 'unknown'; latestId?: string | undefined }

/** A value or a promise of it: memory stores answer synchronously, network stores do not. */
export type MaybePromise<T> = T | Promise<T>

/**
 * Where a channel keeps its history so reconnecting clients can resume from
 * their `Last-Event-ID`. Implement it to put history anywhere; `@sse/redis`
 * provides a Redis Streams one.
 */
export interface EventStore {
  /** Appends an event to `stream` and returns the id it was given. */
  append(stream: string, event: { data: string; event?: string | undefined }): MaybePromise<string>
  /**
   * Every retained event of `stream` after `lastEventId`, oldest first, or a
   * gap when the store cannot tell what came after it.
   */
  readAfter(stream: string, lastEventId: string): MaybePromise<ReadAfterResult>
  /**
   * Optional, for stores shared by several processes: calls `listener` with
   * every event appended to `stream` from now on, by any process, in log
   * order, exactly once, and returns a function that stops it. A channel over
   * such a store delivers what this yields instead of what it appended, so
   * all processes deliver the same events in the same order.
   */
  subscribe?(stream: string, listener: (event: StoredEvent) => void): () => void
}

/** Retention limits for {@link MemoryEventStore}. */
export interface MemoryEventStoreOptions {
  /** Events kept per stream. @defaultValue 1000 */
  maxEvents?: number
  /** Milliseconds an event is kept. @defaultValue 300_000 (5 minutes) */
  maxAge?: number
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number
}

interface StreamLog {
  events: Array<StoredEvent & { at: number }>
  head: number
  // Sequence number of the last event ever appended.
  lastSeq: number
  // Sequence number of the last event dropped by retention (0: none yet).
  trimmedThrough: number
}

/**
 * The embedded default store: each stream's history in memory, bounded by
 * count and age. Ids are `<epoch>-<sequence>`; the epoch is random per store,
 * so an id from before a restart is reported as an `unknown` gap rather than
 * silently matching a different event.
 *
 * @example
 * ```ts
 * const channel = createChannel({ store: new MemoryEventStore({ maxEvents: 500 }) })
 * ```
 */
export class MemoryEventStore implements EventStore {
  readonly #maxEvents: number
  readonly #maxAge: number
  readonly #now: () => number
  readonly #epoch = Math.floor(Math.random() * 0x7fffffff).toString(36)
  readonly #streams = new Map<string, StreamLog>()

  constructor(options: MemoryEventStoreOptions = {}) {
    this.#maxEvents = options.maxEvents ?? 1000
    this.#maxAge = options.maxAge ?? 300_000
    this.#now = options.now ?? Date.now
    if (!(this.#maxEvents >= 1)) throw new TypeError('MemoryEventStore: `maxEvents` must be >= 1')
    if (!(this.#maxAge > 0)) throw new TypeError('MemoryEventStore: `maxAge` must be > 0')
  }

  append(stream: string, event: { data: string; event?: string | undefined }): string {
    let log = this.#streams.get(stream)
    if (log === undefined) {
      log = { events: [], head: 0, lastSeq: 0, trimmedThrough: 0 }
      this.#streams.set(stream, log)
    }
    const seq = ++log.lastSeq
    const id = `${this.#epoch}-${seq}`
    log.events.push({ id, data: event.data, event: event.event, at: this.#now() })
    this.#trim(log)
    return id
  }

  readAfter(stream: string, lastEventId: string): ReadAfterResult {
    const seq = this.#parse(lastEventId)
    const log = this.#streams.get(stream)
    if (log === undefined) {
      // Nothing was ever appended to this stream by this store.
      return seq === 0 ? { gap: false, events: [] } : { gap: true, reason: 'unknown' }
    }
    this.#trim(log)
    const latestId = `${this.#epoch}-${log.lastSeq}`
    if (seq === undefined || seq > log.lastSeq) return { gap: true, reason: 'unknown', latestId }
    if (seq < log.trimmedThrough) return { gap: true, reason: 'expired', latestId }
    const firstSeq = log.trimmedThrough + 1
    const events: StoredEvent[] = []
    for (let i = log.head + (seq - firstSeq + 1); i < log.events.length; i++) {
      const { id, data, event } = log.events[i]!
      events.push(event === undefined ? { id, data } : { id, data, event })
    }
    return { gap: false, events }
  }

  /** The id a client would hold before the first event of this store (resumes from the start). */
  get originId(): string {
    return `${this.#epoch}-0`
  }

  #parse(id: string): number | undefined {
    const dash = id.indexOf('-')
    if (dash === -1 || id.slice(0, dash) !== this.#epoch) return undefined
    const digits = id.slice(dash + 1)
    if (!/^(0|[1-9]\d{0,15})$/.test(digits)) return undefined
    return Number(digits)
  }

  #trim(log: StreamLog): void {
    const oldest = this.#now() - this.#maxAge
    while (
      log.head < log.events.length &&
      (log.events.length - log.head > this.#maxEvents || log.events[log.head]!.at < oldest)
    ) {
      log.head++
      log.trimmedThrough++
    }
    // Compact now and then so the array does not grow with total history.
    // A stream's counters stay forever: reusing its ids would resume a client
    // from the wrong event.
    if (log.head === log.events.length) {
      log.events = []
      log.head = 0
    } else if (log.head > 1024 && log.head * 2 > log.events.length) {
      log.events = log.events.slice(log.head)
      log.head = 0
    }
  }
}
