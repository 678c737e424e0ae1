// Where the demo keeps its history: in memory by default, in Redis when
// REDIS_URL is set, so several instances share one event log. This is the only
// module that knows about Redis.
import { randomUUID } from 'node:crypto'
import { type EventStore, MemoryEventStore } from '@sse/core'

/** The event store of the demo's main channel, plus what running several instances needs. */
export interface DemoStore {
  /** `memory` or `redis`, shown in the page. */
  readonly kind: 'memory' | 'redis'
  readonly store: EventStore
  /**
   * Whether this process should feed the chart now. Instances sharing Redis
   * take turns through a short lease, so the chart has one producer; in
   * memory it is always this process.
   */
  isProducer(): Promise<boolean>
  close(): Promise<void>
}

/** Options for {@link createDemoStore}. */
export interface DemoStoreOptions {
  /** A Redis URL; without it the history stays in this process. @defaultValue process.env.REDIS_URL */
  redisUrl?: string | undefined
  /** Reports background Redis errors. @defaultValue console.error */
  onError?: (error: Error) => void
}

const LEASE_KEY = 'sse-demo:producer'
const LEASE_MS = 2000

/** Creates the store: a MemoryEventStore, or a Redis Streams store when a Redis URL is given. */
export async function createDemoStore(options: DemoStoreOptions = {}): Promise<DemoStore> {
  const redisUrl = 'redisUrl' in options ? options.redisUrl : process.env.REDIS_URL
  if (redisUrl === undefined || redisUrl === '') {
    return {
      kind: 'memory',
      // 5 minutes or 2,000 events (about 8 minutes of chart): a laptop that
      // slept longer gets a `resync` event instead of a silent gap.
      store: new MemoryEventStore({ maxEvents: 2000, maxAge: 5 * 60_000 }),
      isProducer: () => Promise.resolve(true),
      close: () => Promise.resolve(),
    }
  }

  // Loaded only when asked for, so the in-memory demo never needs ioredis.
  const { Redis } = await import('ioredis')
  const { createRedisStore, STORE_CONNECTION_DEFAULTS } = await import('@sse/redis')
  const onError = options.onError ?? ((error: Error) => console.error(`redis: ${error.message}`))
  // As in createRedisStore: the options type only admits one `replyMapping` at a time.
  const redis = new Redis(redisUrl, { ...STORE_CONNECTION_DEFAULTS } as { replyMapping?: 'legacy' })
  redis.on('error', onError)
  const store = createRedisStore({ redis, maxLen: 2000, onError })
  const me = randomUUID()

  return {
    kind: 'redis',
    store,
    async isProducer() {
      try {
        if ((await redis.set(LEASE_KEY, me, 'PX', LEASE_MS, 'NX')) === 'OK') return true
        if ((await redis.get(LEASE_KEY)) !== me) return false
        await redis.pexpire(LEASE_KEY, LEASE_MS)
        return true
      } catch {
        // Redis is unreachable: no point appending to it either; try next tick.
        return false
      }
    },
    async close() {
      await store.close()
      await redis.quit().catch(() => undefined)
    },
  }
}
