import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { type Channel, createChannel, type SseError, type StoredEvent } from '@sse/core'
import { type CreateRedisStoreOptions, createRedisStore, type RedisEventStore } from '@sse/redis'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, test } from 'vitest'
import {
  adminClient,
  clientsNamed,
  deleteKeys,
  describeRedis,
  killClients,
  REDIS_URL,
  recordingSession,
  redisAvailable,
  testRedisAnswers,
  uniquePrefix,
  waitFor,
} from './helpers'

const prefix = uniquePrefix()
let admin: Redis
const cleanups: Array<() => unknown> = []

function store(options: CreateRedisStoreOptions = {}): RedisEventStore {
  const created = createRedisStore({ url: REDIS_URL, prefix, ...options })
  cleanups.push(() => created.close())
  return created
}

function channel(name: string, s: RedisEventStore): Channel {
  const created = createChannel({ name, store: s })
  cleanups.push(() => created.close())
  return created
}

testRedisAnswers()

beforeAll(() => {
  if (redisAvailable) admin = adminClient()
})

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  if (admin !== undefined) {
    await deleteKeys(admin, prefix)
    admin.disconnect()
  }
})

/** A TCP proxy to Redis that can be cut (every connection dropped, new ones refused) and restored. */
async function redisProxy(): Promise<{ url: string; cut(): void; restore(): void; close(): void }> {
  const target = new URL(REDIS_URL)
  const sockets = new Set<Socket>()
  let down = false
  const server: Server = createServer((client) => {
    if (down) {
      client.destroy()
      return
    }
    const upstream = tcpConnect(Number(target.port || 6379), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const proxy = {
    url: `redis://127.0.0.1:${port}`,
    cut() {
      down = true
      for (const socket of sockets) socket.destroy()
    },
    restore() {
      down = false
    },
    close() {
      proxy.cut()
      server.close()
    },
  }
  cleanups.push(() => proxy.close())
  return proxy
}

function data(events: Array<{ data: string }>): string[] {
  return events.map((e) => e.data)
}

describeRedis('RedisEventStore.subscribe: cross-process fan-out', () => {
  test('three stores sharing Redis deliver every broadcast to every channel, same order, once', async () => {
    const stores = [store(), store(), store()]
    const channels = stores.map((s) => channel('fanout', s))
    const recorders = channels.map((c) => {
      const recorder = recordingSession()
      void c.join(recorder.session)
      return recorder
    })
    const results = await Promise.all(
      channels.flatMap((c, p) => Array.from({ length: 30 }, (_, i) => c.broadcast(`${p}:${i}`))),
    )
    // Each broadcast resolves once its own process delivered it from the log.
    expect(results.every((r) => r.delivered === 1)).toBe(true)
    await waitFor(() => recorders.every((r) => r.events.length >= 90), 'all 90 events everywhere')
    const sequences = recorders.map((r) => r.events.map((e) => `${e.lastEventId}=${e.data}`))
    expect(new Set(sequences[0]).size).toBe(90)
    expect(sequences[1]).toEqual(sequences[0])
    expect(sequences[2]).toEqual(sequences[0])
    // Per publisher, in publish order.
    for (let p = 0; p < 3; p++) {
      const mine = data(recorders[0]!.events).filter((d) => d.startsWith(`${p}:`))
      expect(mine).toEqual(Array.from({ length: 30 }, (_, i) => `${p}:${i}`))
    }
  })

  test('many streams share one blocking connection; a new subscription does not wait for BLOCK', async () => {
    const name = `${prefix}mux`
    const reader = store({ block: 30_000, redisOptions: { connectionName: name } })
    const writer = store()
    const first = channel('mux-0', reader)
    const recorder0 = recordingSession()
    await first.join(recorder0.session)
    // Wait until the loop sits in a 30 s XREAD.
    await waitFor(async () => {
      const [conn] = await clientsNamed(admin, `${name}:xread`)
      return conn?.flags.includes('b') === true && conn.cmd === 'xread'
    }, 'the XREAD loop to block')

    const started = Date.now()
    const recorders = []
    for (let i = 1; i <= 24; i++) {
      const c = channel(`mux-${i}`, reader)
      const recorder = recordingSession()
      await c.join(recorder.session)
      recorders.push(recorder)
      // Resolves only once this process's loop delivered it: the loop had
      // to pick up the new stream without waiting out the 30 s block.
      await c.broadcast(`hello ${i}`)
    }
    expect(Date.now() - started).toBeLessThan(10_000)
    await createChannel({ name: 'mux-0', store: writer }).broadcast('from elsewhere')
    await waitFor(() => recorder0.events.length === 1, 'the event on the first stream')
    expect(data(recorder0.events)).toEqual(['from elsewhere'])
    for (const [i, r] of recorders.entries()) expect(data(r.events)).toEqual([`hello ${i + 1}`])
    const connections = await clientsNamed(admin, name)
    expect(connections.filter((c) => c.name === `${name}:xread`)).toHaveLength(1)
  })

  test('unsubscribe stops delivery; a throwing listener is reported and does not stop the loop', async () => {
    const errors: SseError[] = []
    const s = store({ onError: (e) => errors.push(e) })
    const got: StoredEvent[] = []
    const stopped: StoredEvent[] = []
    s.subscribe('unsub', () => {
      throw new Error('listener bug')
    })
    s.subscribe('unsub', (e) => got.push(e))
    const stop = s.subscribe('unsub', (e) => stopped.push(e))
    // Broadcast through a channel: it resolves once the subscription is live and delivered it.
    const c = channel('unsub', s)
    await c.broadcast('one')
    stop()
    await c.broadcast('two')
    expect(data(got)).toEqual(['one', 'two'])
    expect(data(stopped)).toEqual(['one'])
    expect(errors.some((e) => e.code === 'SSE_STORE' && /listener/.test(e.message))).toBe(true)
  })

  test('dropped connections (CLIENT KILL) during a publish loop: nothing lost, nothing twice', async () => {
    const name = `${prefix}killed`
    const receiver = store({ redisOptions: { connectionName: name } })
    const publisher = store()
    const receiving = channel('killed', receiver)
    const recorder = recordingSession()
    await receiving.join(recorder.session)
    const publishing = channel('killed', publisher)
    const acked: string[] = []
    for (let i = 0; i < 300; i++) {
      if (i % 60 === 30) {
        // Both connections (commands, XREAD) are back from the previous kill.
        await waitFor(async () => (await clientsNamed(admin, name)).length === 2, 'reconnects')
        expect(await killClients(admin, name)).toBe(2)
      }
      acked.push((await publishing.broadcast(String(i))).id!)
    }
    await waitFor(() => recorder.events.length >= 300, '300 events after the kills', 15_000)
    expect(data(recorder.events)).toEqual(Array.from({ length: 300 }, (_, i) => String(i)))
    expect(recorder.events.map((e) => e.lastEventId)).toEqual(acked)
    // The receiver's own broadcasts still work after its connections were killed.
    expect((await receiving.broadcast('after')).delivered).toBe(1)
  })

  test('Redis outage: broadcasts fail fast, the loop reconnects and resumes without loss or duplicates', async () => {
    const proxy = await redisProxy()
    const errors: SseError[] = []
    const cut = store({ url: proxy.url, commandTimeout: 500, onError: (e) => errors.push(e) })
    const direct = store()
    const behind = channel('outage', cut)
    const publisher = channel('outage', direct)
    const recorder = recordingSession()
    await behind.join(recorder.session)
    for (let i = 0; i < 20; i++) await publisher.broadcast(String(i))
    await waitFor(() => recorder.events.length === 20, 'the first 20 events')

    proxy.cut()
    const failure = await behind.broadcast('lost').catch((e: unknown) => e)
    expect(failure).toMatchObject({ code: 'SSE_STORE' })
    // Other processes keep publishing while this one cannot reach Redis.
    for (let i = 20; i < 60; i++) await publisher.broadcast(String(i))
    await waitFor(() => errors.length > 0, 'the outage reported to onError')
    expect(recorder.events.length).toBe(20)

    proxy.restore()
    await waitFor(
      () => recorder.events.length >= 60,
      'the events published during the outage',
      15_000,
    )
    for (let i = 60; i < 70; i++) await publisher.broadcast(String(i))
    await waitFor(() => recorder.events.length >= 70, 'live events after recovery')
    expect(data(recorder.events)).toEqual(Array.from({ length: 70 }, (_, i) => String(i)))
    expect((await behind.broadcast('back')).delivered).toBe(1)
  })

  test('a subscription starts when subscribe() was called, even if Redis answers later', async () => {
    const proxy = await redisProxy()
    const direct = store()
    const publisher = channel('late', direct)
    await publisher.broadcast('before')
    proxy.cut()
    const late = store({ url: proxy.url })
    const subscriber = channel('late', late)
    const recorder = recordingSession()
    await subscriber.join(recorder.session)
    // Published while the subscribing process cannot reach Redis yet.
    for (let i = 0; i < 5; i++) await publisher.broadcast(`while connecting ${i}`)
    proxy.restore()
    await subscriber.broadcast('mine')
    await waitFor(() => data(recorder.events).includes('mine'), 'the events since subscribe()')
    // The start is placed in Redis's clock with millisecond and round-trip
    // precision, erring early: an event from just before the call may be
    // included, none after it may be missing.
    expect(data(recorder.events).filter((d) => d !== 'before')).toEqual([
      ...Array.from({ length: 5 }, (_, i) => `while connecting ${i}`),
      'mine',
    ])
  })

  test('close() ends the loop and its connection and leaves no timers behind', async () => {
    const name = `${prefix}closing`
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const before = timers()
    const s = createRedisStore({ url: REDIS_URL, prefix, redisOptions: { connectionName: name } })
    const c = createChannel({ name: 'closing', store: s })
    await c.broadcast('x')
    expect(await clientsNamed(admin, name)).toHaveLength(2)
    c.close()
    await s.close()
    await s.close()
    expect(() => s.subscribe('closing', () => undefined)).toThrow(TypeError)
    await waitFor(async () => (await clientsNamed(admin, name)).length === 0, 'connections closed')
    await new Promise((r) => setImmediate(r))
    expect(timers()).toBeLessThanOrEqual(before)
  })
})
