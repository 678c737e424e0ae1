/**
 * `createNatsEngine`: the `@sse/core` engine on NATS JetStream. This file
 * wires the pieces together: stream.ts (the stream), append.ts, read.ts,
 * follower.ts and consumer.ts (live delivery), positions.ts, subjects.ts.
 */

import { randomBytes } from 'node:crypto'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Engine, EngineEvent, FollowHandlers, Following, ShardReadResult } from '@sse/core'
import { append } from './append'
import { openConnection } from './connection'
import { reporter, storeError } from './errors'
import { ShardFollower } from './follower'
import { type NatsEngineOptions, settingsOf } from './options'
import { encodeEvent } from './payload'
import { comparePositions, isPosition, parsePosition } from './positions'
import { readShard } from './read'
import { createStreamAccess, type StreamSnapshot } from './stream'
import { shardSubject } from './subjects'

/** An {@link Engine} on NATS JetStream; see {@link createNatsEngine}. */
export interface NatsEngine extends Engine {
  /** The connection (yours, or the one made from `servers`), once connected. */
  readonly connection: Promise<NatsConnection>
  /**
   * Stops following every shard (deleting this process's consumers) and
   * closes the connection the engine opened (and `connection` with
   * `closeConnection`). Idempotent; resolves once it is closed.
   */
  close(): Promise<void>
}

/**
 * Creates an engine for `createHub` on NATS JetStream: every process
 * pointed at the same stream shares one event log, and a client resumes on
 * any of them with its Last-Event-ID.
 *
 * @example
 * ```ts
 * const engine = createNatsEngine({ servers: process.env.NATS_URL, onError: (e) => log.warn(e) })
 * const hub = createHub({ engine })
 * // on shutdown
 * hub.close()
 * await engine.close()
 * ```
 */
export function createNatsEngine(options: NatsEngineOptions = {}): NatsEngine {
  const settings = settingsOf(options)
  const { shards, commandTimeout, checkInterval: heartbeat } = settings
  let closed = false
  let closing: Promise<void> | undefined
  const report = reporter(options.onError, () => !closed)
  const connection = openConnection({
    servers: options.servers ?? 'nats://127.0.0.1:4222',
    given: options.connection,
    owned: options.connection === undefined || options.closeConnection === true,
    options: options.connectionOptions,
    timeout: commandTimeout,
    report,
    onStatus(status) {
      // After a reconnect, a consumer may be gone with the server it lived on: replace them all.
      if (status.type === 'reconnect') {
        for (const follower of followers.values()) follower.restart('reconnected to NATS')
      } else if (status.type === 'error') {
        report('NATS connection error', status.error)
      }
    },
  })
  const clients = connection.clients

  const access = createStreamAccess(async () => (await clients()).jsm, settings)
  const followers = new Map<number, ShardFollower>()
  let checkTimer: ReturnType<typeof setInterval> | undefined
  let checking = false
  const idBase = randomBytes(9).toString('base64url') + '.'
  let appended = 0

  function assertShard(shard: number, what: string): void {
    if (!(Number.isInteger(shard) && shard >= 0 && shard < shards)) {
      throw new TypeError(`${what}: shard ${shard} is not an integer from 0 to ${shards - 1}`)
    }
  }

  function subjectOf(shard: number): string {
    return shardSubject(settings.subjectPrefix, shard)
  }

  function check(): void {
    if (checking || followers.size === 0) return
    checking = true
    const snapshot: Promise<StreamSnapshot> = access.snapshot()
    snapshot
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        checking = false
      })
    for (const follower of followers.values()) follower.check(snapshot)
  }

  function forget(shard: number, follower: ShardFollower): void {
    if (follower.size > 0 || followers.get(shard) !== follower) return
    void follower.stop()
    followers.delete(shard)
    if (followers.size === 0) {
      clearInterval(checkTimer)
      checkTimer = undefined
    }
  }

  return {
    connection: connection.connected,
    shards,
    shardOf: (topic) => shardOfTopic(topic, shards),
    isPosition,
    compare: comparePositions,

    append(targets: readonly number[], event: EngineEvent): Promise<void> {
      if (closed) return Promise.reject(storeError('append', new Error('the engine is closed')))
      for (const shard of targets) assertShard(shard, 'append')
      const payload = encodeEvent(event)
      const id = idBase + (appended++).toString(36) + '.'
      const source = {
        js: async () => (await clients()).js,
        stream: settings.stream,
        timeout: commandTimeout,
        noStream: async () => void (await access.snapshot()),
      }
      return Promise.all(
        targets.map((shard) => append(source, subjectOf(shard), payload, id + shard)),
      ).then(() => undefined)
    },

    async read(shard: number, position: string): Promise<ShardReadResult> {
      assertShard(shard, 'read')
      // An untrusted Last-Event-ID reaches NATS only as a position we could have issued.
      const from = parsePosition(position)
      if (from === undefined) return { gap: true, reason: 'unknown' }
      if (closed) throw storeError('read', new Error('the engine is closed'))
      try {
        return await readShard(
          {
            shard,
            subject: subjectOf(shard),
            stream: settings.stream,
            clients,
            access,
            heartbeat,
            timeout: commandTimeout,
            report,
          },
          from,
        )
      } catch (error) {
        throw storeError(`read of shard ${shard}`, error)
      }
    },

    follow(shard: number, handlers: FollowHandlers): Following {
      assertShard(shard, 'follow')
      if (closed) throw new TypeError('follow: the engine is closed')
      let follower = followers.get(shard)
      if (follower === undefined) {
        follower = new ShardFollower({
          shard,
          subject: subjectOf(shard),
          stream: settings.stream,
          clients,
          access,
          heartbeat,
          report,
        })
        followers.set(shard, follower)
        if (checkTimer === undefined) {
          checkTimer = setInterval(check, settings.checkInterval)
          checkTimer.unref?.()
        }
      }
      const owner = follower
      return owner.add(handlers, () => forget(shard, owner))
    },

    close(): Promise<void> {
      closing ??= (async () => {
        closed = true
        clearInterval(checkTimer)
        checkTimer = undefined
        const stopped = [...followers.values()].map((follower) => follower.stop())
        followers.clear()
        // Their consumers are deleted before the connection closes (the server would in 30 s).
        await Promise.all(stopped)
        await connection.close()
      })()
      return closing
    },
  }
}

/**
 * The shard of a topic: FNV-1a (32-bit, over its UTF-16 code units) modulo
 * the number of shards, the same in every process and version.
 */
function shardOfTopic(topic: string, shards: number): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < topic.length; i++) hash = Math.imul(hash ^ topic.charCodeAt(i), 0x01000193)
  return (hash >>> 0) % shards
}
