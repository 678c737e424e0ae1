/**
 * The options of `createRedisEngine`, their defaults, and their validation
 * (misuse is a `TypeError` at the call, with a hint).
 */

import { MAX_SHARDS, type SseError } from '@sse/core'
import type { Cluster, Redis, RedisOptions } from 'ioredis'

/**
 * Options for `createRedisEngine`.
 *
 * @example
 * ```ts
 * createRedisEngine({ url: process.env.REDIS_URL, maxLen: 50_000, onError: (e) => log.warn(e) })
 * createRedisEngine({ redis: new Cluster(nodes, { shardedSubscribers: true }), waitReplicas: 1 })
 * ```
 */
export interface RedisEngineOptions {
  /**
   * The Redis to connect to (standalone). The engine owns the connections it
   * opens and closes them in `close()`. Ignored when `redis` is given.
   *
   * @defaultValue 'redis://127.0.0.1:6379'
   */
  url?: string | undefined
  /**
   * A client of yours instead of `url`: an ioredis `Redis` (standalone or
   * Sentinel, Redis >= 7) or `Cluster`. A Cluster must be created with
   * `shardedSubscribers: true` (and the default `scaleReads: 'master'`).
   * Not closed by the engine unless `quitOnClose`; listen to its `error`
   * event yourself, as for any ioredis client.
   */
  redis?: Redis | Cluster | undefined
  /**
   * ioredis options for the connection made from `url`, over the defaults.
   *
   * @defaultValue {@link ENGINE_CONNECTION_DEFAULTS}
   */
  redisOptions?: RedisOptions | undefined
  /**
   * Put in every key and channel name, inside the hash tag (`{sse:3}`), so
   * that two deployments on one Redis never meet. Must not contain `{` or `}`.
   *
   * @defaultValue 'sse:'
   */
  prefix?: string | undefined
  /**
   * How many shards topics are spread over (1 to 32). Each shard is one
   * stream and one channel; a process follows only the shards its sessions
   * need, and a Last-Event-ID holds one position per shard. Fixed for the
   * life of the data: changing it moves topics to other shards.
   *
   * @defaultValue 16
   */
  shards?: number | undefined
  /** Entries kept per shard (`XADD … MAXLEN ~`), or `false`. @defaultValue 10_000 */
  maxLen?: number | false | undefined
  /** Milliseconds an entry is kept (`XTRIM … MINID ~`, in Redis's clock), or `false`. @defaultValue false */
  maxAge?: number | false | undefined
  /**
   * Milliseconds an append or read may take, waiting for a connection
   * included, before it fails with `SSE_STORE`.
   *
   * @defaultValue 5000
   */
  commandTimeout?: number | undefined
  /**
   * Replicas that must have an event before its publish resolves (`WAIT`,
   * on the connection that appended it). With `1`, an event whose publish
   * resolved survives the failover of its master to a replica; fewer
   * replicas within `waitTimeout` rejects the publish with `SSE_STORE`
   * (the event may still have been delivered).
   *
   * @defaultValue 0
   */
  waitReplicas?: number | undefined
  /** Milliseconds `WAIT` waits for `waitReplicas`. @defaultValue 1000 */
  waitTimeout?: number | undefined
  /**
   * Milliseconds between checks of each followed shard's last id against
   * what this process delivered (one `GET` per shard): catches a lost live
   * message when no later one reveals it, and a log that lost events.
   *
   * @defaultValue 1000
   */
  checkInterval?: number | undefined
  /**
   * Close `redis` in `close()`: for a client made only for this engine.
   * Connections the engine opens itself are always closed.
   *
   * @defaultValue false
   */
  quitOnClose?: boolean | undefined
  /**
   * Background problems: connection errors (of connections the engine
   * opened), a follower catching up or resetting, a malformed message. Every
   * error has code `SSE_STORE` and the original error as `cause`. The engine
   * keeps retrying either way.
   */
  onError?: ((error: SseError) => void) | undefined
}

/**
 * The ioredis options a connection made from `url` starts from: commands
 * fail at once while disconnected instead of queueing (the engine bounds
 * its own wait by `commandTimeout`), a command cut off by a dropped
 * connection fails instead of being sent again, and reconnects back off
 * from 25 ms to 2 s.
 *
 * @example
 * ```ts
 * const redis = new Redis(url, { ...ENGINE_CONNECTION_DEFAULTS, connectionName: 'api' })
 * const engine = createRedisEngine({ redis })
 * ```
 */
export const ENGINE_CONNECTION_DEFAULTS: Readonly<RedisOptions> = Object.freeze({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  retryStrategy: (times: number) =>
    Math.min(25 * 2 ** Math.min(times - 1, 7), 2000) + Math.floor(Math.random() * 25),
})

/** The options with their defaults, validated. */
export interface Settings {
  prefix: string
  shards: number
  maxLen: number | false
  maxAge: number | false
  commandTimeout: number
  waitReplicas: number
  waitTimeout: number
  checkInterval: number
}

/** Applies defaults and throws a `TypeError` for a value out of range. */
export function settingsOf(options: RedisEngineOptions): Settings {
  const settings: Settings = {
    prefix: options.prefix ?? 'sse:',
    shards: options.shards ?? 16,
    maxLen: options.maxLen ?? 10_000,
    maxAge: options.maxAge ?? false,
    commandTimeout: options.commandTimeout ?? 5000,
    waitReplicas: options.waitReplicas ?? 0,
    waitTimeout: options.waitTimeout ?? 1000,
    checkInterval: options.checkInterval ?? 1000,
  }
  const fail = (message: string): never => {
    throw new TypeError(`createRedisEngine: ${message}`)
  }
  if (typeof settings.prefix !== 'string' || /[{}]/.test(settings.prefix)) {
    fail('`prefix` must be a string without `{` or `}` (the engine puts it in a hash tag)')
  }
  if (
    !(Number.isInteger(settings.shards) && settings.shards >= 1 && settings.shards <= MAX_SHARDS)
  ) {
    fail(`\`shards\` must be an integer from 1 to ${MAX_SHARDS}`)
  }
  if (settings.maxLen !== false && !(Number.isInteger(settings.maxLen) && settings.maxLen >= 1)) {
    fail('`maxLen` must be an integer >= 1 or false')
  }
  if (settings.maxAge !== false && !(Number.isInteger(settings.maxAge) && settings.maxAge >= 1)) {
    fail('`maxAge` must be an integer >= 1 (ms) or false')
  }
  if (!(settings.commandTimeout > 0)) fail('`commandTimeout` must be > 0 (ms)')
  if (!(Number.isInteger(settings.waitReplicas) && settings.waitReplicas >= 0)) {
    fail('`waitReplicas` must be an integer >= 0')
  }
  if (!(Number.isInteger(settings.waitTimeout) && settings.waitTimeout >= 1)) {
    fail('`waitTimeout` must be an integer >= 1 (ms); WAIT 0 would wait forever')
  }
  if (!(settings.checkInterval > 0)) fail('`checkInterval` must be > 0 (ms)')
  return settings
}

/** Throws a `TypeError` when `redis` is not a client the engine can use. */
export function assertClient(redis: unknown): asserts redis is Redis | Cluster {
  const client = redis as Partial<Cluster> | undefined
  if (client === null || typeof client !== 'object' || typeof client.call !== 'function') {
    throw new TypeError(
      'createRedisEngine: `redis` must be an ioredis client (new Redis(url) or new Cluster(nodes, { shardedSubscribers: true }))',
    )
  }
  if (client.isCluster !== true) return
  if (client.options?.shardedSubscribers !== true) {
    throw new TypeError(
      'createRedisEngine: create the Cluster with `shardedSubscribers: true` (new Cluster(nodes, { shardedSubscribers: true })): shards are followed with SSUBSCRIBE',
    )
  }
  if ((client.options.scaleReads ?? 'master') !== 'master') {
    throw new TypeError(
      "createRedisEngine: the Cluster must read from masters (`scaleReads: 'master'`, the default): a replica's log lags behind the live messages",
    )
  }
}
