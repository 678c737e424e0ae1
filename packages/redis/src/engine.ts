/**
 * `createRedisEngine`: the `@sse/core` engine on Redis Streams and sharded
 * pub/sub, standalone or Cluster. This file wires the pieces together:
 * keys.ts (shards), append.ts, read.ts, follower.ts, subscriber.ts,
 * commands.ts, positions.ts.
 */

import { randomBytes } from 'node:crypto'
import type {
  Engine,
  EngineEvent,
  FollowHandlers,
  Following,
  ShardEvent,
  ShardReadResult,
} from '@sse/core'
import { Redis } from 'ioredis'
import { createAppender, mayResend } from './append'
import { type Client, closeConnection, createCommandRunner } from './commands'
import { createReport, storeError } from './errors'
import { ShardFollower, type ShardSource } from './follower'
import { type ShardKeys, shardKeys, shardOf } from './keys'
import {
  assertClient,
  ENGINE_CONNECTION_DEFAULTS,
  type RedisEngineOptions,
  settingsOf,
} from './options'
import { encodePayload, parseMessage, parsePayload } from './payload'
import { comparePositions, isPosition, isStreamId, toPosition, toStreamId } from './positions'
import { readAfter } from './read'
import type { Entry } from './replies'
import { createSubscriber, type Subscriber } from './subscriber'

/** An {@link Engine} on Redis; see {@link createRedisEngine}. */
export interface RedisEngine extends Engine {
  /** The client commands go through (yours, or the one made from `url`). */
  readonly redis: Client
  /** Appends to each of `shards`; rejects with `SSE_STORE` when Redis does not accept it. */
  append(shards: readonly number[], event: EngineEvent): Promise<void>
  /** Every retained event of `shard` after `position`, or a gap. */
  read(shard: number, position: string): Promise<ShardReadResult>
  /**
   * Stops following every shard, fails commands still waiting with
   * `SSE_STORE`, and closes the connections the engine opened (and `redis`
   * with `quitOnClose`). Idempotent; resolves once they are closed.
   */
  close(): Promise<void>
}

/**
 * Creates an engine for `createHub` on Redis: every process pointed at the
 * same Redis (and prefix) shares one event log per shard, and a client
 * resumes on any of them with its Last-Event-ID.
 *
 * @example
 * ```ts
 * const engine = createRedisEngine({ url: process.env.REDIS_URL, onError: (e) => log.warn(e) })
 * const hub = createHub({ engine })
 * // on shutdown
 * hub.close()
 * await engine.close()
 * ```
 */
export function createRedisEngine(options: RedisEngineOptions = {}): RedisEngine {
  const settings = settingsOf(options)
  const { shards, commandTimeout } = settings
  const given = options.redis
  if (given !== undefined) assertClient(given)
  const client: Client =
    given ??
    // The reply parsing handles either `replyMapping`; the overloads only type one at a time.
    new Redis(options.url ?? 'redis://127.0.0.1:6379', {
      ...ENGINE_CONNECTION_DEFAULTS,
      ...options.redisOptions,
    } as { replyMapping?: 'legacy' })
  const owned = given === undefined || options.quitOnClose === true
  let closed = false
  let closing: Promise<void> | undefined
  const report = createReport(options.onError, () => !closed)
  const onConnectionError = (error: unknown): void => report('Redis connection error', error)
  // Only on a client we made: a caller's client reports to its own listeners.
  if (given === undefined) client.on('error', onConnectionError)

  const runner = createCommandRunner(client, commandTimeout)
  const appender = createAppender(runner, client, settings)
  const keys: ShardKeys[] = Array.from({ length: shards }, (_, shard) =>
    shardKeys(settings.prefix, shard),
  )
  // Channel names as messages carry them (ioredis adds its keyPrefix).
  const keyPrefix = client.options.keyPrefix ?? ''
  const shardOfChannel = new Map(keys.map((key, shard) => [keyPrefix + key.channel, shard]))
  // Nonces only where a resent append could log an event twice (append.ts).
  const nonceBase = mayResend(client) ? randomBytes(9).toString('base64url') + '.' : undefined
  let appended = 0

  const followers = new Map<number, ShardFollower>()
  let subscriber: Subscriber | undefined
  let checkTimer: ReturnType<typeof setInterval> | undefined

  function assertShard(shard: number, what: string): void {
    if (!(Number.isInteger(shard) && shard >= 0 && shard < shards)) {
      throw new TypeError(`${what}: shard ${shard} is not an integer from 0 to ${shards - 1}`)
    }
  }

  function subscriberOf(): Subscriber {
    subscriber ??= createSubscriber(
      client,
      {
        message(channel, message) {
          const shard = shardOfChannel.get(channel)
          const follower = shard === undefined ? undefined : followers.get(shard)
          if (follower === undefined) return
          const parsed = parseMessage(message)
          if (parsed === undefined) {
            report(`Malformed message on ${channel}`, new Error(message.slice(0, 100)))
          } else {
            follower.message(parsed)
          }
        },
        resubscribed() {
          for (const follower of followers.values()) follower.check()
        },
        report,
      },
      commandTimeout,
    )
    return subscriber
  }

  function lastId(shard: number): Promise<string> {
    return runner
      .run('GET', (redis) => redis.get(keys[shard]!.last))
      .then((id) => {
        if (id === null) return '0-0'
        if (isStreamId(id)) return id
        throw storeError('GET', new Error(`${keys[shard]!.last} holds no stream id`))
      })
  }

  function sourceOf(shard: number): ShardSource {
    const channel = keys[shard]!.channel
    return {
      subscribe: () => subscriberOf().subscribe(channel),
      lastId: () => lastId(shard),
      readAfter: (from, onPage) => readAfter(runner, keys[shard]!.stream, from, onPage),
      report,
    }
  }

  function startChecks(): void {
    if (checkTimer !== undefined) return
    checkTimer = setInterval(() => {
      subscriber?.probe()
      for (const follower of followers.values()) follower.check()
    }, settings.checkInterval)
    checkTimer.unref?.()
  }

  function forget(shard: number, follower: ShardFollower): void {
    if (!follower.idle || followers.get(shard) !== follower) return
    follower.stop()
    followers.delete(shard)
    subscriber?.unsubscribe(keys[shard]!.channel)
    if (followers.size === 0) {
      clearInterval(checkTimer)
      checkTimer = undefined
    }
  }

  return {
    redis: client,
    shards,
    shardOf: (topic) => shardOf(topic, shards),
    isPosition,
    compare: comparePositions,

    append(targets: readonly number[], event: EngineEvent): Promise<void> {
      if (closed) return Promise.reject(storeError('append', new Error('the engine is closed')))
      for (const shard of targets) assertShard(shard, 'append')
      const payload = encodePayload(event)
      const nonce = nonceBase === undefined ? '' : nonceBase + (appended++).toString(36)
      return Promise.all(
        targets.map((shard) => appender.append(keys[shard]!, payload, nonce)),
      ).then(() => undefined)
    },

    async read(shard: number, position: string): Promise<ShardReadResult> {
      assertShard(shard, 'read')
      // An untrusted Last-Event-ID never reaches Redis unless it is a position we could issue.
      if (!isPosition(position)) return { gap: true, reason: 'unknown' }
      if (closed) throw storeError('read', new Error('the engine is closed'))
      const events: ShardEvent[] = []
      const outcome = await readAfter(
        runner,
        keys[shard]!.stream,
        toStreamId(position),
        (entries: Entry[]) => {
          for (const { id, payload } of entries) {
            const event = payload === undefined ? undefined : parsePayload(payload)
            if (event === undefined) report(`Skipped entry ${id} of shard ${shard}`, payload)
            else events.push({ position: toPosition(id), ...event })
          }
        },
      )
      return outcome.gap ? { gap: true, reason: outcome.reason } : { gap: false, events }
    },

    follow(shard: number, handlers: FollowHandlers): Following {
      assertShard(shard, 'follow')
      if (closed) throw new TypeError('follow: the engine is closed')
      let follower = followers.get(shard)
      if (follower === undefined) {
        follower = new ShardFollower(shard, sourceOf(shard))
        followers.set(shard, follower)
        startChecks()
      }
      const owner = follower
      return owner.add(handlers, () => forget(shard, owner))
    },

    close(): Promise<void> {
      closing ??= (async () => {
        closed = true
        clearInterval(checkTimer)
        checkTimer = undefined
        for (const follower of followers.values()) follower.stop()
        followers.clear()
        runner.close('the engine was closed')
        await subscriber?.close()
        if (owned) await closeConnection(client, true, commandTimeout)
        client.off('error', onConnectionError)
      })()
      return closing
    },
  }
}
