import { createHub, type Hub, SseError } from '@sse/core'
import { createRedisEngine, type RedisEngine, type RedisEngineOptions } from '@sse/redis'
import { tcpProxy } from '@sse/test-utils/tcp-proxy'
import { describe, expect, test } from 'vitest'
import { shardKeys } from '../src/keys'
import { isStreamId } from '../src/positions'
import {
  adminClient,
  clientIds,
  describeRedis,
  killClients,
  monitorRedis,
  recordingSession,
  testRedisAnswers,
  uniquePrefix,
  until,
} from './helpers'
import { useOwnRedis } from './processes'

// Failures, on a redis-server of this file's own (restarted, monitored,
// cut off) so that the shared Redis is never disturbed.

testRedisAnswers()

const prefix = uniquePrefix()

const data = (events: Array<{ type: string; data: string }>) =>
  events.filter((event) => event.type === 'message').map((event) => event.data)

describeRedis('faults', () => {
  const redis = useOwnRedis()

  function hubOn(url: string, options: RedisEngineOptions = {}): { hub: Hub; engine: RedisEngine } {
    const engine = createRedisEngine({ url, prefix, ...options })
    const hub = createHub({ engine })
    redis.cleanup(async () => {
      hub.close()
      await engine.close()
    })
    return { hub, engine }
  }

  test('a Redis restart without persistence: sessions get resync, publishing works again', async () => {
    const errors: SseError[] = []
    const { hub } = hubOn(redis.url, { commandTimeout: 1000, onError: (e) => errors.push(e) })
    const session = recordingSession()
    await hub.subscribe(session.session, ['users/*', 'rooms/lobby']).ready
    for (let i = 0; i < 10; i++) await hub.publish(i % 2 ? 'users/1' : 'rooms/lobby', `before ${i}`)
    await until(() => session.events.length === 10, 'the events before the restart')
    const before = session.lastEventId()

    await redis.kill()
    await redis.start()
    await until(() => session.events.some((e) => e.type === 'resync'), 'a resync after the restart')
    const resync = session.events.find((e) => e.type === 'resync')!
    expect(JSON.parse(resync.data)).toEqual({ lastEventId: null, reason: 'reset' })
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.every((e) => e instanceof SseError && e.code === 'SSE_STORE')).toBe(true)

    // Publishing works again (the new server has no script yet: NOSCRIPT, then EVAL).
    await until(
      () =>
        hub.publish('users/1', 'after').then(
          () => true,
          () => false,
        ),
      'a publish to be accepted again',
    )
    await until(() => data(session.events).at(-1) === 'after', 'the event after the restart')
    expect(data(session.events).filter((d) => d === 'after')).toHaveLength(1)
    // An id from before the restart is of another log now.
    const late = recordingSession(before)
    await hub.subscribe(late.session, ['users/*', 'rooms/lobby']).ready
    expect(late.events.map((e) => [e.type, JSON.parse(e.data).reason])).toEqual([
      ['resync', 'unknown'],
    ])
  })

  test('forged Last-Event-IDs never reach Redis: every history read starts at a canonical stream id', async () => {
    const monitor = await monitorRedis(redis.url)
    const { seen } = monitor
    const { hub, engine } = hubOn(redis.url, { shards: 4 })
    await hub.publish('users/1', 'something to read')
    const shard = engine.shardOf('users/1')
    const hostile = [
      '1-0\r\nPING',
      '*',
      '+',
      '-',
      '$',
      '(1-0',
      '18446744073709551616-0',
      '3w5e11264sgsg.0',
      '1.0 ',
      'A.0',
      'x'.repeat(1000),
    ]
    for (const position of hostile) {
      const session = recordingSession(`${shard}:${position}`)
      await hub.subscribe(session.session, ['users/1']).ready
      expect(session.events.map((e) => e.type)).toEqual(['resync'])
    }
    // Valid positions do reach Redis, as the stream ids they stand for.
    const valid = recordingSession(`${shard}:0.0`)
    await hub.subscribe(valid.session, ['users/1']).ready
    await hub.publish('users/1', 'marker')
    await until(
      () => seen.some((args) => args.some((arg) => arg.includes('marker'))),
      'the monitor',
    )
    monitor.stop()
    const ranges = seen.filter((args) => /^x(rev)?range$/i.test(args[0]!))
    expect(ranges.length).toBeGreaterThan(0)
    for (const [, , start] of ranges)
      expect(isStreamId(start!.replace(/^\(/, '')), start).toBe(true)
    const sent = seen.flat()
    for (const position of hostile.filter((p) => p.length > 1)) expect(sent).not.toContain(position)
  })

  test('connections killed during a publish loop: every acknowledged event once, nothing logged twice', async () => {
    const name = `${prefix}killed`
    const receiver = hubOn(redis.url, { redisOptions: { connectionName: `${name}-r` } }).hub
    const publisher = hubOn(redis.url, { redisOptions: { connectionName: `${name}-p` } }).hub
    const session = recordingSession()
    await receiver.subscribe(session.session, ['killed/*']).ready
    const admin = adminClient(redis.url)
    redis.cleanup(() => admin.disconnect())
    const acknowledged: string[] = []
    for (let i = 0; i < 300; i++) {
      if (i % 60 === 30) {
        // The receiver's commands and subscriber, the publisher's commands.
        await until(
          async () => (await clientIds(admin, name)).length === 3,
          'every connection back',
        )
        await killClients(admin, name)
      }
      await publisher.publish(`killed/${i % 3}`, String(i)).then(
        () => acknowledged.push(String(i)),
        () => undefined,
      )
    }
    expect(acknowledged.length).toBeGreaterThan(280)
    await publisher.publish('killed/0', 'last')
    // Three topics on three shards: a shard that is catching up delivers
    // after the others, so wait for everything, not for the last one.
    await until(
      () => [...acknowledged, 'last'].every((event) => data(session.events).includes(event)),
      'every acknowledged event',
      15_000,
    )
    const received = data(session.events)
    expect(new Set(received).size).toBe(received.length)
    // Each topic in publish order (one publisher, awaited one by one).
    for (let topic = 0; topic < 3; topic++) {
      const numbers = received.filter((d) => d !== 'last' && Number(d) % 3 === topic).map(Number)
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b))
    }
    expect(session.events.some((e) => e.type === 'resync')).toBe(false)
  })

  test('an outage of one process’s Redis connections: publishes fail fast, following resumes without loss', async () => {
    const proxy = await tcpProxy(redis.url)
    redis.cleanup(() => proxy.close())
    const errors: SseError[] = []
    const behind = hubOn(proxy.url, {
      commandTimeout: 500,
      checkInterval: 100,
      onError: (e) => errors.push(e),
    }).hub
    const direct = hubOn(redis.url).hub
    const session = recordingSession()
    await behind.subscribe(session.session, ['outage']).ready
    for (let i = 0; i < 20; i++) await direct.publish('outage', String(i))
    await until(() => session.events.length === 20, 'the first 20 events')

    proxy.cut()
    const started = Date.now()
    const failure = await behind.publish('outage', 'lost').catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(SseError)
    expect(failure).toMatchObject({ code: 'SSE_STORE' })
    expect(Date.now() - started).toBeLessThan(2000)
    // Other processes go on publishing meanwhile.
    for (let i = 20; i < 60; i++) await direct.publish('outage', String(i))
    await until(() => errors.length > 0, 'the outage reported')

    proxy.restore()
    await until(() => session.events.length >= 60, 'the events of the outage', 15_000)
    for (let i = 60; i < 70; i++) await direct.publish('outage', String(i))
    await until(() => session.events.length >= 70, 'live events after it')
    expect(data(session.events)).toEqual(Array.from({ length: 70 }, (_, i) => String(i)))
    await behind.publish('outage', 'back')
  })

  test('an outage longer than the log keeps: one resync, then every event the log still holds, the newest included', async () => {
    const proxy = await tcpProxy(redis.url)
    redis.cleanup(() => proxy.close())
    const behind = hubOn(proxy.url, { maxLen: 50, commandTimeout: 500, checkInterval: 100 })
    const direct = hubOn(redis.url, { maxLen: 50 })
    const session = recordingSession()
    await behind.hub.subscribe(session.session, ['kept']).ready
    for (let i = 0; i < 10; i++) await direct.hub.publish('kept', String(i))
    await until(() => session.events.length === 10, 'the first 10 events')

    // Far more than the log keeps, published while the process hears nothing.
    proxy.cut()
    for (let i = 10; i < 400; i++) await direct.hub.publish('kept', String(i))
    const admin = adminClient(redis.url)
    redis.cleanup(() => admin.disconnect())
    const stream = shardKeys(prefix, direct.engine.shardOf('kept')).stream
    const kept = await admin.xlen(stream)
    expect(kept).toBeLessThan(390)
    proxy.restore()

    // Before, it went on from the log's end: the kept events never came,
    // the newest one included, until something else was published.
    await until(() => data(session.events).at(-1) === '399', 'the newest event', 15_000)
    const types = session.events.map((event) => event.type)
    expect(types.indexOf('resync')).toBe(10)
    expect(types.filter((type) => type === 'resync')).toHaveLength(1)
    expect(JSON.parse(session.events[10]!.data)).toEqual({ lastEventId: null, reason: 'reset' })
    const after = session.events.slice(11).map((event) => Number(event.data))
    expect(after).toEqual(Array.from({ length: kept }, (_, i) => 400 - kept + i))
    expect(data(session.events).slice(0, 10)).toEqual(
      Array.from({ length: 10 }, (_, i) => String(i)),
    )
    // The resync's id resumes on any process with what was kept, no gap.
    const atResync = recordingSession(session.events[10]!.lastEventId)
    await direct.hub.subscribe(atResync.session, ['kept']).ready
    expect(atResync.events.map((event) => Number(event.data))).toEqual(after)
    // Its ids resume on any process: from the last one, nothing is missing.
    const resumed = recordingSession(session.lastEventId())
    await direct.hub.subscribe(resumed.session, ['kept']).ready
    await direct.hub.publish('kept', 'next')
    await until(() => resumed.events.length > 0, 'the next event')
    expect(resumed.events.map((event) => event.data)).toEqual(['next'])
  })
})

// No Redis needed: these run everywhere.
describe('without a reachable Redis', () => {
  test('append and read fail with SSE_STORE within commandTimeout; a follow waiting for Redis settles on stop', async () => {
    const errors: SseError[] = []
    const engine = createRedisEngine({
      url: 'redis://127.0.0.1:1',
      commandTimeout: 300,
      onError: (e) => errors.push(e),
    })
    const hub = createHub({ engine })
    const started = Date.now()
    const failure = await hub.publish('down', 'x').catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(SseError)
    expect(failure).toMatchObject({ code: 'SSE_STORE' })
    expect((failure as SseError).cause).toBeInstanceOf(Error)
    expect(Date.now() - started).toBeLessThan(2000)
    await expect(engine.read(0, '1.0')).rejects.toMatchObject({ code: 'SSE_STORE' })
    const following = engine.follow(0, { event: () => undefined, reset: () => undefined })
    await until(() => errors.length > 0, 'a connection error report')
    expect(errors[0]).toMatchObject({ code: 'SSE_STORE' })
    expect(errors[0]!.cause).toBeDefined()
    following.stop()
    await expect(following.ready).rejects.toMatchObject({ code: 'SSE_STORE' })
    hub.close()
    await engine.close()
    expect(() => hub.publish('down', 'late')).toThrow(TypeError)
  })
})
