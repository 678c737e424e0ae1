import { Redis, type RedisOptions } from 'ioredis'
import { RedisEventStore, type RedisEventStoreOptions } from './store'

export { RedisEventStore, type RedisEventStoreOptions } from './store'

/**
 * Options for {@link createRedisStore}: where Redis is, plus the store's own options.
 *
 * @example
 * ```ts
 * createRedisStore({ url: 'rediss://cache.internal:6380', redisOptions: { connectionName: 'api' } })
 * ```
 */
export interface CreateRedisStoreOptions
  extends Omit<RedisEventStoreOptions, 'redis' | 'quitOnClose'> {
  /**
   * The Redis to connect to; the store owns the connections it opens and
   * closes them in `close()`. Ignored when `redis` is given.
   *
   * @defaultValue 'redis://127.0.0.1:6379'
   */
  url?: string | undefined
  /**
   * A client of yours to use instead of `url`. The store never closes it
   * (it does close the blocking connection it duplicates from it).
   */
  redis?: Redis
  /**
   * ioredis options for the connection made from `url`, over the store's
   * defaults.
   *
   * @defaultValue {@link STORE_CONNECTION_DEFAULTS}
   */
  redisOptions?: RedisOptions
}

/**
 * The ioredis options a store-made connection starts from: commands fail at
 * once while disconnected instead of queueing (the store bounds its own
 * wait for a connection by `commandTimeout`), and a command in flight when
 * the connection drops fails rather than being sent again after the
 * reconnect, which for an `XADD` whose reply was lost would append twice.
 *
 * @example
 * ```ts
 * const redis = new Redis(url, { ...STORE_CONNECTION_DEFAULTS, connectionName: 'api' })
 * const store = new RedisEventStore({ redis })
 * ```
 */
export const STORE_CONNECTION_DEFAULTS: Readonly<RedisOptions> = Object.freeze({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  // Reconnect quickly after a blip, at most every 2 s during an outage.
  retryStrategy: (times: number) =>
    Math.min(25 * 2 ** Math.min(times - 1, 7), 2000) + Math.floor(Math.random() * 25),
})

/**
 * Creates a {@link RedisEventStore} for the common case: connects to `url`
 * (or uses your `redis` client) and closes what it opened on `store.close()`.
 *
 * @example
 * ```ts
 * const store = createRedisStore({ url: process.env.REDIS_URL, maxLen: 10_000, onError: log })
 * const prices = createChannel({ name: 'prices', store })
 * // on shutdown
 * prices.close()
 * await store.close()
 * ```
 */
export function createRedisStore(options: CreateRedisStoreOptions = {}): RedisEventStore {
  const { url, redis, redisOptions, ...storeOptions } = options
  if (redis !== undefined) return new RedisEventStore({ ...storeOptions, redis })
  const connection: RedisOptions = { ...STORE_CONNECTION_DEFAULTS, ...redisOptions }
  // The reply parsing handles either `replyMapping`; the constructor's
  // overloads only type one at a time.
  const client = new Redis(
    url ?? 'redis://127.0.0.1:6379',
    connection as { replyMapping?: 'legacy' },
  )
  return new RedisEventStore({ ...storeOptions, redis: client, quitOnClose: true })
}
