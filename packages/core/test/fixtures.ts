import {
  createMemoryEngine,
  createParser,
  createSession,
  type Engine,
  type FollowHandlers,
  type MemoryEngineOptions,
  type ParsedEvent,
  type Session,
  type SseSink,
} from '@sse/core'

const textEncoder = new TextEncoder()

/** An in-memory sink that records every write (as bytes) and can pretend to be full. */
export interface MemorySink extends SseSink {
  readonly chunks: Uint8Array[]
  readonly closed: boolean
  /** When true, write() accepts the chunk but reports a full buffer. */
  full: boolean
  /** Simulates the transport draining: calls the pending drain listener. */
  drain(): void
  /** Simulates the client disconnecting. */
  disconnect(): void
  /** Everything written, decoded. */
  text(): string
  /** Everything written, parsed with our parser. */
  events(): ParsedEvent[]
}

export function memorySink(): MemorySink {
  const controller = new AbortController()
  const chunks: Uint8Array[] = []
  let drainListener: (() => void) | undefined
  let closed = false
  const sink: MemorySink = {
    chunks,
    full: false,
    get closed() {
      return closed
    },
    write(chunk) {
      if (closed) throw new Error('write after close')
      chunks.push(typeof chunk === 'string' ? textEncoder.encode(chunk) : chunk)
      return !sink.full
    },
    onDrain(listener) {
      if (drainListener !== undefined) throw new Error('two drain listeners at once')
      drainListener = listener
    },
    close() {
      closed = true
    },
    signal: controller.signal,
    drain() {
      const listener = drainListener
      drainListener = undefined
      listener?.()
    },
    disconnect() {
      controller.abort()
    },
    text() {
      const decoder = new TextDecoder()
      return chunks.map((c) => decoder.decode(c)).join('')
    },
    events() {
      return parseAll(sink.text())
    },
  }
  return sink
}

export function parseAll(text: string | Uint8Array): ParsedEvent[] {
  const events: ParsedEvent[] = []
  createParser({ onEvent: (event) => events.push(event) }).feed(text)
  return events
}

/** Options for {@link shardedEngine}. */
export interface ShardedEngineOptions extends MemoryEngineOptions {
  /** How many shards. @defaultValue 4 */
  shards?: number
  /** Makes reads asynchronous, resolving after this hook's promise (to interleave publishes). */
  beforeRead?: (shard: number) => Promise<void>
  /** Makes a read fail. */
  failRead?: (shard: number) => boolean
}

/**
 * An in-process engine with several shards (one memory engine each), so the
 * hub's cross-shard rules run without Redis. Positions are `<shard-epoch>-<seq>`;
 * `compare` orders by sequence number only, which within a shard is exact.
 */
export function shardedEngine(options: ShardedEngineOptions = {}): Engine & {
  reads: Array<{ shard: number; position: string }>
  resetShard(shard: number): void
  lagging(): LaggingEngine
} {
  const count = options.shards ?? 4
  const engines = Array.from({ length: count }, () => createMemoryEngine(options))
  const followers = new Map<number, Set<FollowHandlers>>()
  const reads: Array<{ shard: number; position: string }> = []
  const seq = (position: string): number => Number(position.slice(position.indexOf('-') + 1))
  return {
    shards: count,
    reads,
    shardOf(topic) {
      let hash = 0x811c9dc5
      for (let i = 0; i < topic.length; i++)
        hash = Math.imul(hash ^ topic.charCodeAt(i), 0x01000193)
      return (hash >>> 0) % count
    },
    append(shards, event) {
      for (const shard of shards) engines[shard]!.append([0], event)
    },
    async read(shard, position) {
      reads.push({ shard, position })
      await options.beforeRead?.(shard)
      if (options.failRead?.(shard)) throw new Error(`read of shard ${shard} failed`)
      return engines[shard]!.read(0, position)
    },
    follow(shard, handlers) {
      const set = followers.get(shard) ?? new Set()
      followers.set(shard, set)
      set.add(handlers)
      const inner = engines[shard]!.follow(0, handlers)
      return {
        ready: inner.ready,
        stop: () => {
          set.delete(handlers)
          inner.stop()
        },
      }
    },
    isPosition: (position) => engines.some((engine) => engine.isPosition(position)),
    compare: (a, b) => seq(a) - seq(b),
    resetShard(shard) {
      for (const handlers of followers.get(shard) ?? []) handlers.reset('x-0')
    },
    lagging() {
      // The same logs, seen by another process whose live delivery lags
      // until flushed (as pub/sub lags behind the log).
      const queued: Array<() => void> = []
      const view: LaggingEngine = {
        ...this,
        follow: (shard, handlers) => {
          let stopped = false
          const inner = this.follow(shard, {
            event: (event) => queued.push(() => stopped || handlers.event(event)),
            reset: (position) => queued.push(() => stopped || handlers.reset(position)),
          })
          return {
            ready: inner.ready,
            stop: () => {
              stopped = true
              inner.stop()
            },
          }
        },
        flush: () => {
          for (const deliver of queued.splice(0)) deliver()
        },
      }
      return view
    },
  }
}

/** An engine view whose live delivery waits for `flush()`. */
export interface LaggingEngine extends Engine {
  flush(): void
}

/** A session over a memory sink, without retry hint or heartbeat. */
export function openSession(lastEventId?: string): { sink: MemorySink; session: Session } {
  const sink = memorySink()
  return { sink, session: createSession(sink, { retry: false, heartbeat: false, lastEventId }) }
}
