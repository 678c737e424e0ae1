/**
 * The engine suite: the matching and replay semantics every engine must give
 * a hub, proven the same way on each (as the adapter contract suite is for
 * adapters). It drives `createHub` with in-memory clients, so a failure is
 * the engine's (or the hub's), never a transport's.
 *
 * Live delivery may be asynchronous, so nothing is counted while it may
 * still be in flight: every client also subscribes to one "fence" topic per
 * shard, and a check runs once a fence published after everything else has
 * reached the client on every shard (each shard delivers in order).
 */
import { createHub, type Engine, type Hub, selectorMatches } from '@sse/core'
import { describe, expect, test } from 'vitest'
import { type MemoryClient, memoryClient } from './memory-client'
import { until } from './until'

/** What the suite asks of a backend. */
export interface EngineBackendOptions {
  /**
   * Keep only about this many events (per shard, or in all): the suite then
   * publishes 40 times as many to one topic to expire a position.
   */
  retain?: number
}

/** One event log, as deployed: processes open engines on it. */
export interface EngineBackend {
  /**
   * An engine over this backend's log: each call is another process's
   * engine (an in-process engine may return the same one every time).
   */
  open(): Engine | Promise<Engine>
  /** Closes every engine `open` returned and removes the log. */
  cleanup(): void | Promise<void>
}

interface Published {
  topics: string[]
  data: string
}

/**
 * Defines the engine suite for one engine. Call it at a test file's top
 * level; `create` makes a fresh backend for each test (with its own log).
 *
 * @example
 * ```ts
 * runEngineSuite('memory', async ({ retain }) => {
 *   const engine = createMemoryEngine({ maxEvents: retain ?? 1000 })
 *   return { open: () => engine, cleanup: () => engine.close?.() }
 * })
 * ```
 */
export function runEngineSuite(
  name: string,
  create: (options: EngineBackendOptions) => Promise<EngineBackend>,
): void {
  /** Runs `body` with a fresh backend and hub, cleaning up whatever happens. */
  async function withBackend(
    options: EngineBackendOptions,
    body: (world: World) => Promise<void>,
  ): Promise<void> {
    const backends: EngineBackend[] = []
    const hubs: Hub[] = []
    const open = async (backend: EngineBackend) => {
      const hub = createHub({ engine: await backend.open() })
      hubs.push(hub)
      return hub
    }
    try {
      const backend = await create(options)
      backends.push(backend)
      const hub = await open(backend)
      await body({
        hub,
        another: () => open(backend),
        foreign: async () => {
          const other = await create({})
          backends.push(other)
          return open(other)
        },
      })
    } finally {
      for (const hub of hubs) hub.close()
      for (const backend of backends) await backend.cleanup()
    }
  }

  describe(`engine suite: ${name}`, () => {
    test('a conflation key is logged with its event: live and read back, with and without an event type', async () => {
      await withBackend({}, async ({ hub }) => {
        const engine = hub.engine
        const shard = engine.shardOf('prices/acme')
        const seen: Array<{ data: string; event?: string | undefined; key?: string | undefined }> =
          []
        const following = engine.follow(shard, {
          event: ({ data, event, key }) => seen.push({ data, event, key }),
          reset: () => undefined,
        })
        try {
          const start = await following.ready
          await engine.append([shard], { topics: ['prices/acme'], data: '1', key: 'acme' })
          await engine.append([shard], {
            topics: ['prices/acme'],
            data: '2',
            event: 'price',
            key: 'acme "quoted" \n',
          })
          await engine.append([shard], { topics: ['prices/acme'], data: '3' })
          const expected = [
            { data: '1', event: undefined, key: 'acme' },
            { data: '2', event: 'price', key: 'acme "quoted" \n' },
            { data: '3', event: undefined, key: undefined },
          ]
          await until(() => seen.length === 3, 'three live events')
          expect(seen).toEqual(expected)
          const read = await engine.read(shard, start)
          expect(read.gap).toBe(false)
          if (!read.gap) {
            expect(read.events.map(({ data, event, key }) => ({ data, event, key }))).toEqual(
              expected,
            )
          }
        } finally {
          following.stop()
        }
      })
    })

    test('exact, * and ** selectors: each session receives exactly the events they match, once', async () => {
      await withBackend({}, async ({ hub }) => {
        const selectors = [
          ['users/1'],
          ['users/*'],
          ['users/**'],
          ['orders/*/items'],
          ['users/1', 'orders/**'],
          ['*'],
          ['rooms/lobby', 'rooms/*', 'rooms/**'],
        ]
        const clients = await subscribeAll(hub, selectors)
        const published = await publishAll(hub, [
          ['users/1'],
          ['users/2'],
          ['users/1/inbox'],
          ['users'],
          ['orders/7/items'],
          ['orders/7'],
          ['orders/7/items/3'],
          ['rooms/lobby'],
          ['rooms/lobby/threads/9'],
          ['news'],
          ['users/2', 'rooms/lobby'],
          ['news', 'orders/7/items', 'users/1'],
          ['users/1/inbox', 'users/2/inbox'],
        ])
        await expectReceived(hub, clients, published)
      })
    })

    test('an event to topics on several shards reaches a session once, live and replayed', async () => {
      await withBackend({}, async ({ hub }) => {
        const topics = topicsOnDistinctShards(hub.engine, 3)
        const selectors = [topics, [topics[0]!, 'spread/**'], ['spread/*'], [topics[2]!]]
        const clients = await subscribeAll(hub, selectors)
        const live = await publishAll(hub, [topics, topics.slice(1), [topics[0]!, 'other']])
        await expectReceived(hub, clients, live)
        const ids = clients.map(({ client }) => client.lastEventId())
        for (const { client } of clients) client.disconnect()
        const away = await publishAll(hub, [topics.slice().reverse(), [topics[1]!, topics[2]!]])
        const again = await subscribeAll(hub, selectors, ids)
        await expectReceived(hub, again, away)
      })
    })

    test('one Last-Event-ID resumes every topic of a connection: what was missed, once, then live', async () => {
      await withBackend({}, async ({ hub }) => {
        const topics = topicsOnDistinctShards(hub.engine, 3)
        const selectors = [...topics, 'feeds/*']
        const [first] = await subscribeAll(hub, [selectors])
        const before = await publishAll(hub, [[topics[0]!], ['feeds/a'], [topics[2]!]])
        await expectReceived(hub, [first!], before)
        first!.client.disconnect()
        const away = await publishAll(hub, [
          [topics[1]!],
          ['feeds/b'],
          ['elsewhere'],
          [topics[0]!],
          [topics[2]!, 'feeds/c'],
          [topics[1]!],
        ])
        const [second] = await subscribeAll(hub, [selectors], [first!.client.lastEventId()])
        const after = await publishAll(hub, [[topics[2]!], ['feeds/d']])
        await expectReceived(hub, [second!], [...away, ...after])
        expect(second!.client.resyncs()).toEqual([])
      })
    })

    test('two processes: a client moving between hubs resumes on either, nothing lost or twice', async () => {
      await withBackend({}, async ({ hub: a, another }) => {
        const b = await another()
        const topics = topicsOnDistinctShards(a.engine, 2)
        const selectors = [...topics, 'shared/*']
        const plan = (tag: string): string[][] => [
          [topics[0]!],
          ['shared/x'],
          [topics[1]!, 'shared/y'],
          [`${tag}/ignored`],
        ]
        const published: Published[] = []
        const received: string[] = []
        let here = a
        let [current] = await subscribeAll(here, [selectors])
        for (let move = 0; move < 4; move++) {
          // Published on both processes while the client is connected to one…
          published.push(...(await publishAll(a, plan(`a${move}`))))
          published.push(...(await publishAll(b, plan(`b${move}`))))
          await fenced(here, [current!])
          current!.client.disconnect()
          received.push(...current!.received)
          expect(current!.client.resyncs()).toEqual([])
          // …and while it is away; then it reconnects to the other one.
          published.push(...(await publishAll(b, plan(`c${move}`))))
          here = here === a ? b : a
          ;[current] = await subscribeAll(here, [selectors], [current!.client.lastEventId()])
        }
        await fenced(here, [current!])
        received.push(...current!.received)
        expect(current!.client.resyncs()).toEqual([])
        expect([...received].sort()).toEqual(wanted(selectors, published).sort())
      })
    })

    test('forged and foreign ids get resync (unknown), replay nothing, and resume from now', async () => {
      await withBackend({}, async ({ hub, foreign }) => {
        const topics = topicsOnDistinctShards(hub.engine, 2)
        const [probe] = await subscribeAll(hub, [[...topics, 'secret/**']])
        await publishAll(hub, [['secret/a'], [topics[0]!]])
        await fenced(hub, [probe!])
        const real = probe!.client.lastEventId()
        // Another deployment, ahead of this one: its ids name positions this log never issued.
        const elsewhere = await foreign()
        const [stranger] = await subscribeAll(elsewhere, [topics])
        await publishAll(
          elsewhere,
          Array.from({ length: 20 }, () => [topics[0]!]),
        )
        await fenced(elsewhere, [stranger!])
        const forged = [
          stranger!.client.lastEventId(),
          'garbage',
          `${real},${real}`,
          `99:${real.split(',')[0]!.split(':')[1]}`,
          real.replace(/:[^,]*/, ':'),
          'x'.repeat(1000),
        ]
        for (const id of forged) {
          const [client] = await subscribeAll(hub, [topics], [id])
          await hub.publish(topics[0]!, 'live')
          await fenced(hub, [client!])
          expect(client!.client.resyncs(), id).toEqual([{ lastEventId: id, reason: 'unknown' }])
          // Nothing replayed: only the event published after it connected.
          expect(client!.received, id).toEqual(['live'])
        }
      })
    })

    test('an id whose events retention dropped gets resync (expired); its new id resumes from now', async () => {
      const retain = 5
      await withBackend({ retain }, async ({ hub }) => {
        const [first] = await subscribeAll(hub, [['busy']])
        await publishAll(hub, [['busy']])
        await fenced(hub, [first!])
        first!.client.disconnect()
        for (let i = 0; i < retain * 40; i++) await hub.publish('busy', `while away ${i}`)
        const [second] = await subscribeAll(hub, [['busy']], [first!.client.lastEventId()])
        expect(second!.client.resyncs()).toEqual([
          { lastEventId: first!.client.lastEventId(), reason: 'expired' },
        ])
        expect(second!.received).toEqual([])
        second!.client.disconnect()
        const [third] = await subscribeAll(hub, [['busy']], [second!.client.lastEventId()])
        const after = await publishAll(hub, [['busy'], ['busy']])
        await expectReceived(hub, [third!], after)
        expect(third!.client.resyncs()).toEqual([])
      })
    })
  })
}

interface World {
  /** A hub on a fresh backend. */
  hub: Hub
  /** A hub on another engine of the same backend (another process). */
  another(): Promise<Hub>
  /** A hub on another backend (another deployment). */
  foreign(): Promise<Hub>
}

/** A subscribed client, its selectors, and the messages it received apart from fences. */
interface Subscriber {
  client: MemoryClient
  selectors: string[]
  readonly received: string[]
}

let fenceRound = 0
let published = 0

/** One topic per shard, for fences. */
function fenceTopics(engine: Engine): string[] {
  return topicsOnDistinctShards(engine, engine.shards, 'fence')
}

/** `count` topics `<prefix>/<n>`, on distinct shards as far as the engine has them. */
function topicsOnDistinctShards(engine: Engine, count: number, prefix = 'spread'): string[] {
  const distinct = Math.min(count, engine.shards)
  const found = new Map<number, string>()
  for (let i = 0; found.size < distinct; i++) {
    const topic = `${prefix}/${i}`
    if (!found.has(engine.shardOf(topic))) found.set(engine.shardOf(topic), topic)
  }
  const topics = [...found.values()]
  for (let i = 0; topics.length < count; i++) topics.push(`${prefix}/more/${i}`)
  return topics
}

async function subscribeAll(
  hub: Hub,
  selectors: string[][],
  lastEventIds: Array<string | undefined> = [],
): Promise<Subscriber[]> {
  const fences = fenceTopics(hub.engine)
  return Promise.all(
    selectors.map(async (own, i) => {
      const client = memoryClient(lastEventIds[i])
      await hub.subscribe(client.session, [...own, ...fences]).ready
      return {
        client,
        selectors: own,
        get received() {
          return client.messages().filter((data) => !data.startsWith('fence '))
        },
      }
    }),
  )
}

/** Publishes one event per entry (to its topics), in order, each awaited. */
async function publishAll(hub: Hub, events: string[][]): Promise<Published[]> {
  const out: Published[] = []
  for (const topics of events) {
    const data = `event ${++published}`
    await hub.publish(topics, data)
    out.push({ topics, data })
  }
  return out
}

/** Waits until a fence published now on every shard has reached every client. */
async function fenced(hub: Hub, clients: Subscriber[]): Promise<void> {
  const fence = `fence ${++fenceRound}`
  const topics = fenceTopics(hub.engine)
  for (const topic of topics) await hub.publish(topic, fence)
  await until(
    () =>
      clients.every(
        ({ client }) =>
          client.messages().filter((data) => data === fence).length === topics.length ||
          client.session.closed,
      ),
    `${fence} on every shard for every client`,
  )
}

function wanted(selectors: string[], events: Published[]): string[] {
  return events
    .filter(({ topics }) => topics.some((t) => selectors.some((s) => selectorMatches(s, t))))
    .map(({ data }) => data)
}

/**
 * After a fence: each client received exactly the events its selectors
 * match, once, and each topic's events in publish order.
 */
async function expectReceived(hub: Hub, clients: Subscriber[], events: Published[]) {
  await fenced(hub, clients)
  for (const { client, selectors, received } of clients) {
    const want = wanted(selectors, events)
    expect([...received].sort(), String(selectors)).toEqual([...want].sort())
    for (const { topics } of events) {
      if (topics.length !== 1) continue
      const mine = want.filter(
        (data) => events.find((e) => e.data === data)!.topics[0] === topics[0],
      )
      const got = received.filter((data) => mine.includes(data))
      expect(got, `order of ${topics[0]} for ${selectors}`).toEqual(mine)
    }
    expect(client.resyncs(), String(selectors)).toEqual([])
  }
}
