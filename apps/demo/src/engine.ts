// Where the demo's events go: an in-memory engine by default, Redis when
// REDIS_URL is set, NATS JetStream when NATS_URL is set, so several instances
// share one event log. This is the only module that knows about either.
import { randomUUID } from 'node:crypto'
import { createMemoryEngine, type Engine } from '@sse/core'

/** The engine of the demo's hub, plus what running several instances needs. */
export interface DemoEngine {
  /** `memory` or `redis`, shown in the page. */
  readonly kind: 'memory' | 'redis' | 'nats'
  readonly engine: Engine
  /**
   * Whether this process should feed the chart now. Instances sharing Redis
   * take turns through a short lease, so the chart has one producer; in
   * memory it is always this process.
   */
  isProducer(): Promise<boolean>
  close(): Promise<void>
}

/** Options for {@link createDemoEngine}. */
export interface DemoEngineOptions {
  /** A Redis URL; without it the events stay in this process. @defaultValue process.env.REDIS_URL */
  redisUrl?: string | undefined
  /**
   * Put in front of every Redis key, so the demo never meets other data (or
   * another demo: tests use a unique one).
   *
   * @defaultValue 'sse-demo:'
   */
  prefix?: string | undefined
  /**
   * A NATS server URL (JetStream enabled), used when no Redis URL is given.
   * @defaultValue process.env.NATS_URL
   */
  natsUrl?: string | undefined
  /** Reports background Redis or NATS errors. @defaultValue console.error */
  onError?: (error: Error) => void
}

const LEASE_MS = 2000

/** Creates the engine: in memory, or on Redis when a Redis URL is given. */
export async function createDemoEngine(options: DemoEngineOptions = {}): Promise<DemoEngine> {
  const redisUrl = 'redisUrl' in options ? options.redisUrl : process.env.REDIS_URL
  const natsUrl = 'natsUrl' in options ? options.natsUrl : process.env.NATS_URL
  if ((redisUrl === undefined || redisUrl === '') && natsUrl !== undefined && natsUrl !== '') {
    return natsEngine(natsUrl, options)
  }
  if (redisUrl === undefined || redisUrl === '') {
    return {
      kind: 'memory',
      // 5 minutes or 2,000 events (about 8 minutes of chart): a laptop that
      // slept longer gets a `resync` event instead of a silent gap.
      engine: createMemoryEngine({ maxEvents: 2000, maxAge: 5 * 60_000 }),
      isProducer: () => Promise.resolve(true),
      close: () => Promise.resolve(),
    }
  }

  // Loaded only when asked for, so the in-memory demo never needs ioredis.
  const { createRedisEngine } = await import('@sse/redis')
  const prefix = options.prefix ?? 'sse-demo:'
  const onError = options.onError ?? ((error: Error) => console.error(`redis: ${error.message}`))
  const engine = createRedisEngine({ url: redisUrl, prefix, maxLen: 2000, onError })
  // The lease goes through the engine's own connection: nothing more to open.
  const redis = engine.redis
  const leaseKey = `${prefix}producer`
  const me = randomUUID()

  return {
    kind: 'redis',
    engine,
    async isProducer() {
      try {
        if ((await redis.set(leaseKey, me, 'PX', LEASE_MS, 'NX')) === 'OK') return true
        if ((await redis.get(leaseKey)) !== me) return false
        await redis.pexpire(leaseKey, LEASE_MS)
        return true
      } catch {
        // Redis is unreachable: no point publishing to it either; try next tick.
        return false
      }
    },
    close: () => engine.close(),
  }
}

/**
 * The engine on NATS JetStream: one stream (`SSE_DEMO`, or `<prefix>` made a
 * stream name), and the chart's producer lease in a key-value bucket whose
 * entries expire after the lease.
 */
async function natsEngine(servers: string, options: DemoEngineOptions): Promise<DemoEngine> {
  // Loaded only when asked for, like ioredis.
  const { createNatsEngine } = await import('@sse/nats')
  const { Kvm } = await import('@nats-io/kv')
  const name = (options.prefix ?? 'sse-demo:').replace(/[^\w-]/g, '_').replace(/_+$/, '')
  const onError = options.onError ?? ((error: Error) => console.error(`nats: ${error.message}`))
  const engine = createNatsEngine({
    servers,
    stream: name.toUpperCase(),
    subjectPrefix: name,
    maxLen: 2000,
    onError,
  })
  const leases = await new Kvm(await engine.connection).create(`${name}_producer`, {
    ttl: LEASE_MS,
  })
  const me = randomUUID()
  let revision = 0

  return {
    kind: 'nats',
    engine,
    async isProducer() {
      try {
        // Create succeeds only when no live lease exists; the holder renews
        // its own entry (same revision it last wrote) before it expires.
        if (revision === 0) {
          revision = await leases.create('lease', me)
          return true
        }
        revision = await leases.update('lease', me, revision)
        return true
      } catch {
        revision = 0
        return false
      }
    },
    close: () => engine.close(),
  }
}
