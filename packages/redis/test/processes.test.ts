import type { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, test } from 'vitest'
import {
  adminClient,
  clientsNamed,
  deleteKeys,
  describeRedis,
  killClients,
  type OpenStream,
  openStream,
  redisAvailable,
  type ServerProcess,
  startServer,
  testRedisAnswers,
  uniquePrefix,
  waitFor,
} from './helpers'

// Several server processes (test/fixtures/server.ts: node:http + @sse/core +
// @sse/redis) sharing one Redis, with real HTTP clients on each.

const prefix = uniquePrefix()
let admin: Redis
const servers: ServerProcess[] = []
const streams: OpenStream[] = []

async function start(count: number, env: (i: number) => Record<string, string>) {
  const started = await Promise.all(
    Array.from({ length: count }, (_, i) => startServer({ PREFIX: prefix, ...env(i) })),
  )
  servers.push(...started)
  return started
}

function connect(server: ServerProcess, lastEventId?: string): OpenStream {
  const stream = openStream(`${server.url}/events`, lastEventId)
  streams.push(stream)
  return stream
}

async function sessions(server: ServerProcess): Promise<number> {
  const response = await fetch(`${server.url}/stats`)
  return ((await response.json()) as { sessions: number }).sessions
}

testRedisAnswers()

beforeAll(() => {
  if (redisAvailable) admin = adminClient()
})

afterAll(async () => {
  for (const stream of streams) stream.close()
  for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGKILL')
  if (admin !== undefined) {
    await deleteKeys(admin, prefix)
    admin.disconnect()
  }
})

describeRedis('several server processes sharing Redis', () => {
  test('a publish in any process reaches every client of every process, in order, exactly once', async () => {
    const group = await start(3, () => ({ STREAM: 'fanout' }))
    const clients = group.flatMap((server) => [connect(server), connect(server)])
    await waitFor(
      async () => (await Promise.all(group.map(sessions))).every((n) => n === 2),
      'two clients on every process',
    )
    const published = await Promise.all(
      Array.from({ length: 60 }, (_, i) => group[i % 3]!.publish(`event ${i}`)),
    )
    expect(published.every((p) => p.ok)).toBe(true)
    await waitFor(() => clients.every((c) => c.events.length >= 60), '60 events on every client')
    const log = (await admin.xrange(`${prefix}fanout`, '-', '+')).map(([id]) => id)
    for (const client of clients) {
      expect(client.events.map((e) => e.lastEventId)).toEqual(log)
    }
    const received = clients[0]!.events.map((e) => e.data)
    expect([...received].sort()).toEqual(Array.from({ length: 60 }, (_, i) => `event ${i}`).sort())
  })

  test('a process killed mid-stream: its client resumes on another process with Last-Event-ID, missing nothing', async () => {
    const [doomed, survivor] = await start(2, () => ({ STREAM: 'failover' }))
    const client = connect(doomed!)
    await waitFor(async () => (await sessions(doomed!)) === 1, 'the client to join')

    const total = 80
    let published = 0
    const publishing = (async () => {
      for (; published < total; published++) {
        const result = await survivor!.publish(String(published))
        expect(result.ok).toBe(true)
      }
    })()
    await waitFor(() => client.events.length >= 25, 'some events on the doomed process')
    doomed!.child.kill('SIGKILL')
    await client.ended
    expect(await doomed!.exited).toMatchObject({ signal: 'SIGKILL' })
    const seenBefore = client.events.length
    // Events keep coming while the client is away.
    const resumeAfter = published + 10
    await waitFor(() => published >= resumeAfter || published === total, 'events during the gap')

    const lastEventId = client.events.at(-1)!.lastEventId
    const resumed = connect(survivor!, lastEventId)
    await publishing
    await waitFor(
      () => seenBefore + resumed.events.length >= total,
      'the missed and the live events after resuming',
    )
    const all = [...client.events.slice(0, seenBefore), ...resumed.events].map((e) => e.data)
    expect(all).toEqual(Array.from({ length: total }, (_, i) => String(i)))
    // No resync: the id was still in the history.
    expect(resumed.events.every((e) => e.type === 'message')).toBe(true)
  })

  test('Redis connections dropped (CLIENT KILL) during a publish loop: every client gets the log, once', async () => {
    const name = `${prefix}proc`
    const group = await start(2, (i) => ({ STREAM: 'killed', CONN_NAME: `${name}-${i}` }))
    const clients = group.flatMap((server) => [connect(server), connect(server)])
    await waitFor(
      async () => (await Promise.all(group.map(sessions))).every((n) => n === 2),
      'two clients on every process',
    )
    const acked: string[] = []
    let failed = 0
    let kills = 0
    for (let i = 0; i < 200; i++) {
      if (i % 50 === 25) {
        // Both processes' command and XREAD connections, once all four are back.
        await waitFor(async () => (await clientsNamed(admin, name)).length === 4, 'reconnects')
        kills += await killClients(admin, name)
      }
      const result = await group[i % 2]!.publish(String(i))
      if (result.ok) acked.push(result.id!)
      else failed++
    }
    expect(kills).toBe(16)
    // A publish whose XADD was cut off may or may not be in the log (its
    // reply was lost); every acknowledged one is.
    expect(acked.length).toBeGreaterThanOrEqual(200 - 8)
    const log = (await admin.xrange(`${prefix}killed`, '-', '+')).map(([id]) => id)
    expect(log.length).toBeGreaterThanOrEqual(acked.length)
    for (const id of acked) expect(log).toContain(id)
    await waitFor(
      () => clients.every((c) => c.events.length >= log.length),
      'every logged event on every client',
      15_000,
    )
    for (const client of clients) {
      const ids = client.events.map((e) => e.lastEventId)
      expect(new Set(ids).size).toBe(ids.length)
      expect(ids).toEqual(log)
    }
    expect(failed).toBe(200 - acked.length)

    // Clean shutdown: channel.close() + store.close(), and the process exits
    // by itself, so nothing (timer, socket, XREAD loop) was left running.
    for (const server of group) server.send({ type: 'shutdown' })
    for (const server of group) expect(await server.exited).toEqual({ code: 0, signal: null })
    expect(await clientsNamed(admin, name)).toEqual([])
  })
})
