import type {
  Engine,
  EngineEvent,
  FollowHandlers,
  Following,
  ShardEvent,
  ShardReadResult,
} from './engine'

/** Retention for {@link createMemoryEngine}. */
export interface MemoryEngineOptions {
  /**
   * Events kept for replay, over all topics (one log). `0` keeps none: live
   * delivery only, and a reconnect after any event gets `resync`.
   *
   * @defaultValue 1000
   */
  maxEvents?: number
  /** Milliseconds an event is kept. @defaultValue 300_000 (5 minutes) */
  maxAge?: number
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number
}

interface Logged extends ShardEvent {
  seq: number
  at: number
}

/**
 * The default engine: one process, one shard, history in memory bounded by
 * count and age. Positions are `<epoch>-<sequence>`; the epoch is random per
 * engine, so an id from before a restart is an `unknown` gap (the client gets
 * `resync`) rather than silently matching another event.
 *
 * @example
 * ```ts
 * const hub = createHub({ engine: createMemoryEngine({ maxEvents: 10_000 }) })
 * ```
 */
export function createMemoryEngine(options: MemoryEngineOptions = {}): Engine {
  const maxEvents = options.maxEvents ?? 1000
  const maxAge = options.maxAge ?? 300_000
  const now = options.now ?? Date.now
  if (!(Number.isInteger(maxEvents) && maxEvents >= 0)) {
    throw new TypeError('createMemoryEngine: `maxEvents` must be an integer >= 0')
  }
  if (!(maxAge > 0)) throw new TypeError('createMemoryEngine: `maxAge` must be > 0 (ms)')
  const epoch = Math.floor(Math.random() * 0x7fffffff).toString(36)
  const prefix = epoch + '-'
  let events: Logged[] = []
  let head = 0
  let lastSeq = 0
  // The sequence number of the last event dropped by retention (0: none yet).
  let trimmedThrough = 0
  const followers = new Set<FollowHandlers>()

  function trim(): void {
    const oldest = now() - maxAge
    while (
      head < events.length &&
      (events.length - head > maxEvents || events[head]!.at < oldest)
    ) {
      trimmedThrough = events[head]!.seq
      head++
    }
    // Compact now and then so the array does not grow with total history.
    if (head === events.length) {
      events = []
      head = 0
    } else if (head > 1024 && head * 2 > events.length) {
      events = events.slice(head)
      head = 0
    }
  }

  function seqOf(position: string): number | undefined {
    if (!position.startsWith(prefix)) return undefined
    const digits = position.slice(prefix.length)
    if (!/^(0|[1-9]\d{0,15})$/.test(digits)) return undefined
    return Number(digits)
  }

  return {
    shards: 1,
    shardOf: () => 0,
    append(_shards: readonly number[], event: EngineEvent): void {
      const seq = ++lastSeq
      const logged: Logged = {
        position: prefix + seq,
        topics: event.topics,
        data: event.data,
        event: event.event,
        key: event.key,
        seq,
        at: now(),
      }
      events.push(logged)
      trim()
      for (const follower of [...followers]) if (followers.has(follower)) follower.event(logged)
    },
    read(_shard: number, position: string): ShardReadResult {
      const seq = seqOf(position)
      if (seq === undefined || seq > lastSeq) return { gap: true, reason: 'unknown' }
      trim()
      if (seq < trimmedThrough) return { gap: true, reason: 'expired' }
      const out: ShardEvent[] = []
      for (let i = head + (seq - trimmedThrough); i < events.length; i++) {
        const { position: at, topics, data, event, key } = events[i]!
        out.push({ position: at, topics, data, event, key })
      }
      return { gap: false, events: out }
    },
    follow(_shard: number, handlers: FollowHandlers): Following {
      const own = { event: handlers.event, reset: handlers.reset }
      followers.add(own)
      return {
        ready: Promise.resolve(prefix + lastSeq),
        stop: () => void followers.delete(own),
      }
    },
    isPosition: (position) => seqOf(position) !== undefined,
    // Both valid (isPosition passed): no need to check them again.
    compare: (a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)),
  }
}
