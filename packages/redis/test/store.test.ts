import { createChannel, type ReadAfterResult, SseError } from '@sse/core'
import { createRedisStore, RedisEventStore } from '@sse/redis'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  adminClient,
  deleteKeys,
  describeRedis,
  REDIS_URL,
  redisAvailable,
  testRedisAnswers,
  uniquePrefix,
  waitFor,
} from './helpers'

const prefix = uniquePrefix()
let admin: Redis
const stores: RedisEventStore[] = []

function store(options: Parameters<typeof createRedisStore>[0] = {}): RedisEventStore {
  const created = createRedisStore({ url: REDIS_URL, prefix, ...options })
  stores.push(created)
  return created
}

testRedisAnswers()

beforeAll(() => {
  if (redisAvailable) admin = adminClient()
})

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()))
  if (admin !== undefined) {
    await deleteKeys(admin, prefix)
    admin.disconnect()
  }
})

function byId(a: string, b: string): number {
  const [aMs, aSeq] = a.split('-').map((part) => BigInt(part)) as [bigint, bigint]
  const [bMs, bSeq] = b.split('-').map((part) => BigInt(part)) as [bigint, bigint]
  const diff = aMs === bMs ? aSeq - bSeq : aMs - bMs
  return diff < 0n ? -1 : diff > 0n ? 1 : 0
}

async function redisNowMs(): Promise<bigint> {
  const [seconds, micros] = (await admin.time()).map(Number) as [number, number]
  return BigInt(seconds) * 1000n + BigInt(micros) / 1000n
}

function ids(result: ReadAfterResult): string[] {
  if (result.gap) throw new Error(`unexpected gap: ${JSON.stringify(result)}`)
  return result.events.map((e) => e.id)
}

describeRedis('RedisEventStore: append and readAfter', () => {
  test('append returns the stream entry id, increasing; readAfter returns exactly what follows', async () => {
    const s = store()
    const appended: string[] = []
    for (let i = 0; i < 20; i++) {
      appended.push(await s.append('exact', { data: `d${i}`, event: i % 2 ? 'odd' : undefined }))
    }
    for (const id of appended) expect(id).toMatch(/^\d+-\d+$/)
    expect([...appended].sort(byId)).toEqual(appended)
    expect(new Set(appended).size).toBe(20)
    expect(await admin.xlen(`${prefix}exact`)).toBe(20)

    for (let i = 0; i < appended.length; i++) {
      expect(ids(await s.readAfter('exact', appended[i]!))).toEqual(appended.slice(i + 1))
    }
    const all = await s.readAfter('exact', appended[4]!)
    expect(all.gap).toBe(false)
    if (!all.gap) {
      expect(all.events[0]).toEqual({ id: appended[5], data: 'd5', event: 'odd' })
      expect(all.events[1]).toEqual({ id: appended[6], data: 'd6' })
    }
    // '0-0' is the origin: everything, as nothing was ever trimmed.
    expect(ids(await s.readAfter('exact', '0-0'))).toEqual(appended)
  })

  test('a stream nothing was appended to: the origin resumes, any other id is unknown', async () => {
    const s = store()
    expect(await s.readAfter('never', '0-0')).toEqual({ gap: false, events: [] })
    expect(await s.readAfter('never', '1-0')).toEqual({ gap: true, reason: 'unknown' })
  })

  test('malformed ids are unknown, carry the newest id, and never reach Redis', async () => {
    const s = store()
    const last = await s.append('malformed', { data: 'x' })
    const monitor = await admin.monitor()
    const seen: string[][] = []
    monitor.on('monitor', (_time: string, args: string[]) => seen.push(args))
    const bad = [
      'abc',
      '1',
      '1-2-3',
      '01-0',
      '1-00',
      '-1-0',
      '1-0 ',
      '1-0\r\nPING',
      '*',
      '$',
      '+',
      '18446744073709551616-0',
      '0-18446744073709551616',
      `${'9'.repeat(30)}-0`,
      'x'.repeat(5000),
    ]
    for (const id of bad) {
      expect(await s.readAfter('malformed', id)).toEqual({
        gap: true,
        reason: 'unknown',
        latestId: last,
      })
    }
    // Something we know reached Redis after them, so the monitor saw everything before it.
    await s.append('malformed', { data: 'marker' })
    await waitFor(() => seen.some((args) => args.includes('marker')), 'the monitor to catch up')
    monitor.disconnect()
    // Every argument of every command on this stream except the marker's XADD.
    const sent = seen
      .filter((args) => args.includes(`${prefix}malformed`) && args[0]?.toLowerCase() !== 'xadd')
      .flat()
    expect(sent).toContain(`${prefix}malformed`)
    for (const id of bad) expect(sent).not.toContain(id)
  })

  test('an id newer than the last entry, or one Redis never issued, is unknown', async () => {
    const s = store()
    const first = await s.append('forged', { data: 'a' })
    const last = await s.append('forged', { data: 'b' })
    const [ms] = last.split('-')
    const newer = `${BigInt(ms!) + 1000n}-0`
    expect(await s.readAfter('forged', newer)).toEqual({
      gap: true,
      reason: 'unknown',
      latestId: last,
    })
    expect(await s.readAfter('forged', '18446744073709551615-18446744073709551615')).toMatchObject({
      gap: true,
      reason: 'unknown',
    })
    // Within the retained range but never issued.
    const [firstMs, firstSeq] = first.split('-')
    const between = `${firstMs}-${Number(firstSeq) + 100}`
    if (between !== last) {
      expect(await s.readAfter('forged', between)).toEqual({
        gap: true,
        reason: 'unknown',
        latestId: last,
      })
    }
    // Older than everything in a stream that never lost an entry: never issued here.
    expect(await s.readAfter('forged', '1-0')).toEqual({
      gap: true,
      reason: 'unknown',
      latestId: last,
    })
  })

  test('length trimming (MAXLEN ~): a trimmed id is an expired gap with the newest id', async () => {
    const s = store({ maxLen: 100 })
    const appended: string[] = []
    for (let i = 0; i < 400; i++) appended.push(await s.append('trimmed', { data: String(i) }))
    const length = await admin.xlen(`${prefix}trimmed`)
    expect(length).toBeGreaterThanOrEqual(100)
    expect(length).toBeLessThan(400)
    const last = appended.at(-1)!
    expect(await s.readAfter('trimmed', appended[0]!)).toEqual({
      gap: true,
      reason: 'expired',
      latestId: last,
    })
    expect(await s.readAfter('trimmed', '0-0')).toMatchObject({ gap: true, reason: 'expired' })
    // Anything still retained resumes exactly.
    const from = 400 - 50
    expect(ids(await s.readAfter('trimmed', appended[from]!))).toEqual(appended.slice(from + 1))
    expect(await s.readAfter('trimmed', last)).toEqual({ gap: false, events: [] })
  })

  test('age trimming (MINID ~): entries older than maxAge are dropped on the next append', async () => {
    let clock = Date.now()
    const s = store({ maxLen: false, maxAge: 60_000, now: () => clock })
    const old: string[] = []
    for (let i = 0; i < 250; i++) old.push(await s.append('aged', { data: String(i) }))
    const lastOldMs = BigInt(old.at(-1)!.split('-')[0]!)
    // The next entry must get a later millisecond than the old ones.
    await waitFor(async () => (await redisNowMs()) > lastOldMs, 'the Redis clock to tick')
    // Pretend a minute passed: every old entry is now past maxAge.
    clock = Number(lastOldMs) + 1 + 60_000
    const fresh = await s.append('aged', { data: 'fresh' })
    const length = await admin.xlen(`${prefix}aged`)
    expect(length).toBeLessThan(251)
    expect(await s.readAfter('aged', old[0]!)).toEqual({
      gap: true,
      reason: 'expired',
      latestId: fresh,
    })
    expect(ids(await s.readAfter('aged', old.at(-1)!))).toEqual([fresh])
  })

  test('length and age together: both bounds apply', async () => {
    const s = store({ maxLen: 100, maxAge: 3_600_000 })
    const appended: string[] = []
    for (let i = 0; i < 300; i++) appended.push(await s.append('both', { data: String(i) }))
    expect(await admin.xlen(`${prefix}both`)).toBeLessThan(300)
    expect(ids(await s.readAfter('both', appended[280]!))).toEqual(appended.slice(281))
  })

  test('the channel resync event carries the newest id after an expired Last-Event-ID', async () => {
    const s = store({ maxLen: 100 })
    const first = await s.append('resync', { data: 'old' })
    let last = first
    for (let i = 0; i < 300; i++) last = await s.append('resync', { data: String(i) })
    const channel = createChannel({ name: 'resync', store: s })
    const frames: string[] = []
    const controller = new AbortController()
    const { createSession } = await import('@sse/core')
    const session = createSession(
      {
        write: (chunk) => {
          frames.push(new TextDecoder().decode(chunk))
          return true
        },
        onDrain: () => undefined,
        close: () => controller.abort(),
        signal: controller.signal,
      },
      { retry: false, heartbeat: false, lastEventId: first },
    )
    await channel.join(session)
    expect(frames.join('')).toBe(
      `event: resync\nid: ${last}\ndata: ${JSON.stringify({ lastEventId: first, reason: 'expired' })}\n\n`,
    )
    channel.close()
  })
})

describeRedis('RedisEventStore: reply shapes', () => {
  const clients = [
    ['RESP2', { protocol: 2 }],
    ['RESP3 with replyMapping resp3', { protocol: 3, replyMapping: 'resp3' }],
    ['RESP3 with a keyPrefix', { keyPrefix: prefix }],
  ] as const
  test.each(clients)('%s: append, readAfter, gaps and subscribe work alike', async (_, options) => {
    const { Redis } = await import('ioredis')
    const redis = new Redis(REDIS_URL, options as never)
    const s = new RedisEventStore({ redis, prefix: `${prefix}shapes:` })
    try {
      const stream = `s${clients.findIndex(([, o]) => o === options)}`
      const channel = createChannel({ name: stream, store: s })
      const first = (await channel.broadcast('a', { event: 'x' })).id!
      const second = (await channel.broadcast('b')).id!
      expect(await s.readAfter(stream, first)).toEqual({
        gap: false,
        events: [{ id: second, data: 'b' }],
      })
      expect(await s.readAfter(stream, '0-0')).toEqual({
        gap: false,
        events: [
          { id: first, data: 'a', event: 'x' },
          { id: second, data: 'b' },
        ],
      })
      expect(await s.readAfter(stream, 'nope')).toEqual({
        gap: true,
        reason: 'unknown',
        latestId: second,
      })
      channel.close()
    } finally {
      await s.close()
      await redis.quit()
    }
  })
})

describeRedis('RedisEventStore: connection ownership', () => {
  test('close() leaves a connection passed in open, and closes the one it duplicated', async () => {
    const { Redis } = await import('ioredis')
    const mine = new Redis(REDIS_URL, { connectionName: `${prefix}owned` })
    const s = new RedisEventStore({ redis: mine, prefix })
    const stop = s.subscribe('owned', () => undefined)
    await s.append('owned', { data: 'x' })
    await waitFor(async () => {
      const list = (await admin.client('LIST')) as string
      return list.includes(`name=${prefix}owned:xread`)
    }, 'the XREAD connection to open')
    stop()
    await s.close()
    expect(mine.status).toBe('ready')
    expect(await mine.ping()).toBe('PONG')
    const list = (await admin.client('LIST')) as string
    expect(list).not.toContain(`name=${prefix}owned:xread`)
    await mine.quit()
  })
})

// These need no Redis: they run everywhere.
describe('RedisEventStore without a reachable Redis', () => {
  test('Redis unreachable: append, readAfter and broadcast fail with SSE_STORE within commandTimeout', async () => {
    const errors: SseError[] = []
    const s = createRedisStore({
      url: 'redis://127.0.0.1:1',
      commandTimeout: 300,
      onError: (e) => errors.push(e),
    })
    const started = Date.now()
    const failure = await s.append('down', { data: 'x' }).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(SseError)
    expect((failure as SseError).code).toBe('SSE_STORE')
    expect((failure as SseError).cause).toBeInstanceOf(Error)
    expect((failure as SseError).message).toMatch(/XADD/)
    expect(Date.now() - started).toBeLessThan(2000)
    await expect(s.readAfter('down', '1-0')).rejects.toMatchObject({ code: 'SSE_STORE' })

    const channel = createChannel({ name: 'down', store: s })
    await expect(channel.broadcast('x')).rejects.toMatchObject({ code: 'SSE_STORE' })
    // Connection errors went to onError, as SseErrors with the cause attached.
    await waitFor(() => errors.length > 0, 'a connection error report')
    expect(errors[0]!.code).toBe('SSE_STORE')
    expect(errors[0]!.cause).toBeDefined()
    channel.close()
    await s.close()
    await expect(s.append('down', { data: 'late' })).rejects.toMatchObject({ code: 'SSE_STORE' })
  })

  test('options are validated', () => {
    const redis = { call: () => undefined } as never
    expect(() => new RedisEventStore({ redis, maxLen: 0 })).toThrow(TypeError)
    expect(() => new RedisEventStore({ redis, maxAge: -1 })).toThrow(TypeError)
    expect(() => new RedisEventStore({ redis, block: 0 })).toThrow(TypeError)
    expect(() => new RedisEventStore({ redis: undefined as never })).toThrow(TypeError)
  })
})
