import { createServer } from 'node:http'
import { type Hub, type ParsedEvent, type ShardEvent, selectorMatches } from '@sse/core'
import { sse } from '@sse/node-http'
import { type ListeningServer, listen } from '@sse/test-utils'
import { afterAll, expect, test } from 'vitest'
import { shardKeys } from '../src/keys'
import {
  adminClient,
  describeRedis,
  openStream,
  type Recorder,
  recordingSession,
  testRedisAnswers,
  until,
  useTarget,
} from './helpers'

// The engine's semantics through createHub, the same test bodies on the
// shared Redis and on a local cluster of 3 masters and 3 replicas.

testRedisAnswers()

const TOPICS = [
  'users/1',
  'users/2',
  'orders/1',
  'orders/2',
  'orders/1/items',
  'a/b',
  'a/b/c',
  'rooms/lobby',
  'other',
]

/** Which published events a session with `selectors` must get, in publish order. */
function expected(selectors: string[], published: Array<{ topics: string[]; data: string }>) {
  return published
    .filter(({ topics }) => topics.some((t) => selectors.some((s) => selectorMatches(s, t))))
    .map(({ data }) => data)
}

/**
 * Fails unless `received` holds each expected event once, and the events
 * published to one topic alone arrive in publish order. (An event published
 * to several topics reaches a session from one shard, the lowest among the
 * topics it matches: its order against another shard's events is the order
 * they arrived in, which on a cluster, where shards live on different nodes,
 * need not be publish order.)
 */
function expectExactlyOnce(
  received: ParsedEvent[],
  want: string[],
  topicsOf: Map<string, string[]>,
) {
  const data = received.filter((event) => event.type === 'message').map((event) => event.data)
  expect([...data].sort()).toEqual([...want].sort())
  for (const topic of TOPICS) {
    const only = (list: string[]) => list.filter((d) => topicsOf.get(d)!.join() === topic)
    expect(only(data), topic).toEqual(only(want))
  }
}

/** A node:http server serving `hub`: `GET /?s=<selector>&s=…` opens a stream. */
async function serve(hub: Hub): Promise<ListeningServer> {
  const server = createServer(
    sse(
      (session, { req }) =>
        hub.subscribe(session, new URL(req.url!, 'http://x').searchParams.getAll('s')).ready,
      { heartbeat: false },
    ),
  )
  return listen(server)
}

for (const name of ['redis', 'cluster'] as const) {
  describeRedis(`the engine on ${name === 'redis' ? 'one Redis' : 'a Redis Cluster'}`, () => {
    const on = useTarget(name)
    const servers: ListeningServer[] = []
    afterAll(() => Promise.all(servers.map((server) => server.close())))

    test('every session gets exactly the events its selectors match, once, from either process', async () => {
      const [a, b] = [on.hub(), on.hub()]
      const sessions: Array<{ selectors: string[]; recorder: Recorder }> = [
        { selectors: ['users/1', 'orders/*'], recorder: recordingSession() },
        { selectors: ['a/**', 'users/2', 'rooms/lobby'], recorder: recordingSession() },
        { selectors: ['orders/*', 'users/1', 'a/b', 'orders/1/**'], recorder: recordingSession() },
        { selectors: ['nobody/*'], recorder: recordingSession() },
      ]
      await Promise.all(
        sessions.map(
          ({ selectors, recorder }, i) =>
            (i % 2 ? b : a)!.subscribe(recorder.session, selectors).ready,
        ),
      )
      const published: Array<{ topics: string[]; data: string }> = []
      for (let i = 0; i < 60; i++) {
        // One, two or three topics, usually on different shards.
        const topics = [
          ...new Set([TOPICS[i % 9]!, TOPICS[(i * 7) % 9]!, TOPICS[(i * 5) % 9]!]),
        ].slice(0, 1 + (i % 3))
        published.push({ topics, data: `event ${i}` })
        await (i % 2 ? b : a)!.publish(topics, `event ${i}`)
      }
      const topicsOf = new Map(published.map(({ topics, data }) => [data, topics]))
      for (const { selectors, recorder } of sessions) {
        const want = expected(selectors, published)
        await until(() => recorder.events.length >= want.length, `${want.length} events`)
        expectExactlyOnce(recorder.events, want, topicsOf)
      }
      expect(sessions[3]!.recorder.events).toEqual([])
      // Nothing more arrives: whatever is in flight now would be a duplicate.
      await b!.publish('users/1', 'marker')
      await until(() => sessions[0]!.recorder.events.at(-1)?.data === 'marker', 'the marker')
      expect(sessions[0]!.recorder.events).toHaveLength(
        expected(['users/1', 'orders/*'], published).length + 1,
      )
    })

    test('one Last-Event-ID resumes every topic of a connection on another process, nothing lost or twice', async () => {
      const [a, b] = [on.hub(), on.hub()]
      const [serverA, serverB] = [await serve(a), await serve(b)]
      servers.push(serverA, serverB)
      const selectors = ['users/1', 'orders/*', 'a/**']
      const query = selectors.map((s) => `s=${encodeURIComponent(s)}`).join('&')
      const first = openStream(`${serverA.url}/?${query}`)
      // Live once its position arrives (an id-only frame after the subscription is ready).
      await until(() => first.lastEventId() !== '', 'the first connection to be live')
      const published: Array<{ topics: string[]; data: string }> = []
      const publish = async (hub: Hub, i: number) => {
        const topics = [...new Set([TOPICS[i % 9]!, TOPICS[(i * 4) % 9]!])]
        published.push({ topics, data: `e${i}` })
        await hub.publish(topics, `e${i}`)
      }
      for (let i = 0; i < 30; i++) await publish(i % 2 ? a : b, i)
      const before = expected(selectors, published).length
      await until(() => first.events.length >= before, 'the events before the drop')
      first.close()
      await first.ended
      // Missed while away, published by both processes.
      for (let i = 30; i < 60; i++) await publish(i % 2 ? a : b, i)
      const second = openStream(`${serverB.url}/?${query}`, first.lastEventId())
      await until(() => second.lastEventId() !== '', 'the reconnection to be live')
      for (let i = 60; i < 80; i++) await publish(i % 2 ? a : b, i)
      const want = expected(selectors, published)
      await until(
        () => first.events.length + second.events.length >= want.length,
        `${want.length} events over two connections`,
      )
      second.close()
      const topicsOf = new Map(published.map(({ topics, data }) => [data, topics]))
      expectExactlyOnce([...first.events, ...second.events], want, topicsOf)
      expect(second.events.some((event) => event.type === 'resync')).toBe(false)
      // One id, one position per shard the selectors need (patterns need them all).
      expect(first.lastEventId().split(',')).toHaveLength(16)
    })

    test('expired, unknown and forged Last-Event-IDs get resync; nothing outside the selectors is replayed', async () => {
      const hub = on.hub({ maxLen: 50, shards: 4 })
      const opener = recordingSession()
      await hub.subscribe(opener.session, ['users/*']).ready
      const early = opener.lastEventId()
      await hub.publish('users/1', 'first')
      await hub.publish('users/2', 'secret for user 2')
      await until(() => opener.events.length === 2, 'the first events')
      const afterFirst = opener.events[0]!.lastEventId
      for (let i = 0; i < 300; i++) await hub.publish('users/1', `filler ${i}`)
      await hub.publish('users/2', 'another secret')
      await hub.publish('users/1', 'last')
      await until(() => opener.events.at(-1)?.data === 'last', 'the last event')
      const current = opener.lastEventId()

      const resume = async (selectors: string[], lastEventId: string) => {
        const recorder = recordingSession(lastEventId)
        await hub.subscribe(recorder.session, selectors).ready
        recorder.session.close()
        return recorder.events
      }
      const gap = (events: ParsedEvent[]) =>
        events[0]?.type === 'resync'
          ? (JSON.parse(events[0].data) as { reason: string }).reason
          : 'none'
      // Trimmed past it (MAXLEN ~ 50 keeps one or two radix nodes of 100).
      expect(gap(await resume(['users/1'], afterFirst))).toBe('expired')
      expect(gap(await resume(['users/1'], early))).toBe('expired')
      // Still retained: resumes, and only what the selectors allow.
      const resumed = await resume(['users/1'], opener.events.at(-30)!.lastEventId)
      expect(gap(resumed)).toBe('none')
      expect(resumed.map((event) => event.data).every((data) => !data.includes('secret'))).toBe(
        true,
      )
      expect(resumed.at(-1)!.data).toBe('last')
      // Beyond the log, malformed, too long, wrong or missing shards: unknown, never a crash.
      const beyond = current.replace(/:([0-9a-z]+)\./g, (_, ms: string) => `:${ms}zz.`)
      const forged = [
        beyond,
        '0:1.0,1:1.0,2:1.0,3:1.0',
        current.replace(/,?\d+:/g, (m) => m.replace(/\d+/, (n) => String(Number(n) + 4))),
        current
          .split(',')
          .filter((entry) => !entry.startsWith(`${hub.engine.shardOf('users/1')}:`))
          .join(','),
        'x'.repeat(1000),
        `${current},99:1.0`,
        current.replace(/\./g, '-'),
        '0:1-0\r\nPING',
      ]
      for (const id of forged) {
        const events = await resume(['users/1'], id)
        // Older than a trimmed stream's first entry is `expired`: whether it
        // was ever issued cannot be told any more.
        expect([id, gap(events)]).toEqual([id, id === forged[1] ? 'expired' : 'unknown'])
        expect(events.map((event) => event.data).join()).not.toContain('secret')
      }
    })

    test('data of any shape comes back exactly, live and from history', async () => {
      const engine = on.engine()
      const hostile = [
        '',
        'line\nbreaks\r\nand\rcarriage',
        '"quoted" \\ backslash',
        '0-0 1-1 ["looks","like","framing"]',
        '[["topic"],"data","event"]',
        '\u0000\u0001\u007f',
        '😀'.repeat(1000),
      ]
      const shard = engine.shardOf('hostile/1')
      const live: ShardEvent[] = []
      const following = engine.follow(shard, { event: (e) => live.push(e), reset: () => undefined })
      const start = await following.ready
      for (const [i, data] of hostile.entries()) {
        await engine.append([shard], {
          topics: ['hostile/1', `x y/${i}`],
          data,
          event: i % 2 ? 'odd' : undefined,
        })
      }
      await until(() => live.length === hostile.length, 'every event live')
      const read = await engine.read(shard, start)
      expect(read.gap).toBe(false)
      for (const events of [live, read.gap ? [] : read.events]) {
        expect(events.map((e) => e.data)).toEqual(hostile)
        expect(events.map((e) => e.event)).toEqual(
          hostile.map((_, i) => (i % 2 ? 'odd' : undefined)),
        )
        expect(events.map((e) => e.topics)).toEqual(
          hostile.map((_, i) => ['hostile/1', `x y/${i}`]),
        )
      }
      following.stop()
    })

    if (name === 'cluster') {
      test("the default shards' keys spread over every master; WAIT runs on the shard's own node", async () => {
        const cluster = on.cluster()
        const masters = new Set<number>()
        for (let shard = 0; shard < 16; shard++) {
          masters.add((await cluster.masterOf(shardKeys('sse:', shard).stream)).port)
        }
        expect(masters.size).toBe(3)

        const engine = on.engine({ waitReplicas: 1 })
        const shard = engine.shardOf('users/1')
        const owner = await cluster.masterOf(shardKeys(on.prefix, shard).stream)
        const waits = async () => {
          const counts = new Map<number, number>()
          for (const node of await cluster.nodes()) {
            const admin = adminClient(`redis://127.0.0.1:${node.port}`)
            const stats = await admin.info('commandstats')
            admin.disconnect()
            counts.set(node.port, Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0))
          }
          return counts
        }
        const before = await waits()
        for (let i = 0; i < 5; i++)
          await engine.append([shard], { topics: ['users/1'], data: String(i) })
        const after = await waits()
        for (const [port, calls] of after) {
          expect([port, calls - (before.get(port) ?? 0)]).toEqual([
            port,
            port === owner.port ? 5 : 0,
          ])
        }
      })
    }
  })
}
