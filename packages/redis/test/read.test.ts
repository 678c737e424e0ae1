import type { ShardReadResult } from '@sse/core'
import { createRedisEngine, type RedisEngine, type RedisEngineOptions } from '@sse/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { shardKeys } from '../src/keys'
import { previousId, toPosition, toStreamId } from '../src/positions'
import {
  adminClient,
  deleteKeys,
  describeRedis,
  REDIS_URL,
  redisAvailable,
  testRedisAnswers,
  uniquePrefix,
  until,
} from './helpers'

// History reads and their gap rules (src/read.ts) through engine.read, on
// the shared Redis.

const prefix = uniquePrefix()
let admin: Redis
const engines: RedisEngine[] = []

function engine(options: RedisEngineOptions = {}): RedisEngine {
  const created = createRedisEngine({ url: REDIS_URL, prefix, shards: 4, ...options })
  engines.push(created)
  return created
}

testRedisAnswers()

beforeAll(() => {
  if (redisAvailable) admin = adminClient()
})

afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()))
  if (admin !== undefined) {
    await deleteKeys(admin, prefix)
    await deleteKeys(admin, prefix, 'kp:')
    admin.disconnect()
  }
})

/** Appends `count` events to `topic` and returns their positions (as a follower saw them). */
async function fill(e: RedisEngine, topic: string, count: number, from = 0): Promise<string[]> {
  const shard = e.shardOf(topic)
  const seen: string[] = []
  const following = e.follow(shard, {
    event: (event) => seen.push(event.position),
    reset: () => undefined,
  })
  await following.ready
  for (let i = from; i < from + count; i++) {
    await e.append([shard], { topics: [topic], data: String(i) })
  }
  await until(() => seen.length === count, `${count} events appended`)
  following.stop()
  return seen
}

function positions(result: ShardReadResult): string[] {
  if (result.gap) throw new Error(`unexpected gap: ${JSON.stringify(result)}`)
  return result.events.map((event) => event.position)
}

describeRedis('engine.read', () => {
  test('returns exactly what follows a position, in order, across pages', async () => {
    const e = engine({ maxLen: false })
    const shard = e.shardOf('paged')
    const appended = await fill(e, 'paged', 2500)
    expect(appended).toHaveLength(2500)
    for (const i of [0, 999, 1000, 2498]) {
      expect(positions(await e.read(shard, appended[i]!))).toEqual(appended.slice(i + 1))
    }
    expect(await e.read(shard, appended.at(-1)!)).toEqual({ gap: false, events: [] })
    // The origin of a stream that never lost an entry: everything.
    const all = await e.read(shard, '0.0')
    expect(positions(all)).toEqual(appended)
    expect(all.gap ? [] : all.events.slice(0, 2)).toEqual([
      { position: appended[0], topics: ['paged'], data: '0', event: undefined },
      { position: appended[1], topics: ['paged'], data: '1', event: undefined },
    ])
  })

  test('a shard nothing was appended to: the origin resumes, any other position is unknown', async () => {
    const e = engine({ prefix: uniquePrefix() })
    expect(await e.read(2, '0.0')).toEqual({ gap: false, events: [] })
    expect(await e.read(2, '1.0')).toEqual({ gap: true, reason: 'unknown' })
  })

  test('newer than the log, never issued, or older than a never-trimmed log: unknown', async () => {
    const e = engine()
    const shard = e.shardOf('forged')
    const [first, last] = await fill(e, 'forged', 2)
    const [ms, seq] = toStreamId(last!).split('-') as [string, string]
    const unknown = { gap: true, reason: 'unknown' }
    expect(await e.read(shard, toPosition(`${BigInt(ms) + 1000n}-0`))).toEqual(unknown)
    expect(await e.read(shard, '3w5e11264sgsf.3w5e11264sgsf')).toEqual(unknown)
    const between = toPosition(`${toStreamId(first!).split('-')[0]}-${Number(seq) + 100}`)
    if (between !== last) expect(await e.read(shard, between)).toEqual(unknown)
    expect(await e.read(shard, '1.0')).toEqual(unknown)
    expect(await e.read(shard, 'not a position')).toEqual(unknown)
  })

  test('length trimming (MAXLEN ~): a trimmed position is expired; what is retained resumes', async () => {
    const e = engine({ maxLen: 100 })
    const shard = e.shardOf('trimmed')
    const appended = await fill(e, 'trimmed', 400)
    const length = await admin.xlen(shardKeys(prefix, shard).stream)
    expect(length).toBeGreaterThanOrEqual(100)
    expect(length).toBeLessThan(400)
    expect(await e.read(shard, appended[0]!)).toEqual({ gap: true, reason: 'expired' })
    expect(await e.read(shard, '0.0')).toEqual({ gap: true, reason: 'expired' })
    expect(positions(await e.read(shard, appended[350]!))).toEqual(appended.slice(351))
    // Just before the first retained entry nothing can have been trimmed:
    // everything retained follows; one id earlier, something may have been.
    const retained = appended.slice(appended.length - length)
    const before = previousId(toStreamId(retained[0]!))
    expect(positions(await e.read(shard, toPosition(before)))).toEqual(retained)
    expect(await e.read(shard, toPosition(previousId(before)))).toEqual({
      gap: true,
      reason: 'expired',
    })
  })

  test("age trimming (MINID ~, in Redis's clock): entries older than maxAge go with the next append", async () => {
    const e = engine({ maxLen: false, maxAge: 300 })
    const shard = e.shardOf('aged')
    const old = await fill(e, 'aged', 250)
    const lastOldMs = BigInt(toStreamId(old.at(-1)!).split('-')[0]!)
    await until(async () => {
      const [seconds, micros] = (await admin.time()).map(Number) as [number, number]
      return BigInt(seconds) * 1000n + BigInt(Math.floor(micros / 1000)) > lastOldMs + 300n
    }, 'maxAge to pass in Redis time')
    const [fresh] = await fill(e, 'aged', 1, 250)
    expect(await admin.xlen(shardKeys(prefix, shard).stream)).toBeLessThan(251)
    expect(await e.read(shard, old[0]!)).toEqual({ gap: true, reason: 'expired' })
    expect(positions(await e.read(shard, old.at(-1)!))).toEqual([fresh])
  })

  test('reply shapes: RESP2, RESP3 mapped, and an ioredis keyPrefix all read, follow and append alike', async () => {
    const variants = [
      { protocol: 2 },
      { protocol: 3, replyMapping: 'resp3' },
      { keyPrefix: 'kp:' },
    ] as const
    for (const [i, options] of variants.entries()) {
      const redis = new Redis(REDIS_URL, options as never)
      const e = createRedisEngine({ redis, prefix: `${prefix}shapes${i}:`, shards: 1 })
      const live: string[] = []
      const following = e.follow(0, {
        event: (event) => live.push(event.data),
        reset: () => undefined,
      })
      const start = await following.ready
      await e.append([0], { topics: ['a'], data: 'x', event: 'named' })
      await e.append([0], { topics: ['a', 'b'], data: 'y' })
      await until(() => live.length === 2, `live events over ${JSON.stringify(options)}`)
      const read = await e.read(0, start)
      expect(
        read.gap ? [] : read.events.map(({ data, event, topics }) => ({ data, event, topics })),
      ).toEqual([
        { data: 'x', event: 'named', topics: ['a'] },
        { data: 'y', event: undefined, topics: ['a', 'b'] },
      ])
      expect(live).toEqual(['x', 'y'])
      expect(await e.read(0, 'nope')).toEqual({ gap: true, reason: 'unknown' })
      following.stop()
      await e.close()
      expect(redis.status).toBe('ready')
      await redis.quit()
    }
  })
})
