import { selectorMatches } from '@sse/core'
import { EventSource } from 'eventsource'
import { afterAll, expect, test } from 'vitest'
import { eventsUrl, isLive, type ServerGroup } from './server-process'
import { until } from './until'

// The process suite: server processes (fixtures/engine-server.ts: node:http
// + createHub + an engine) sharing one event log, real HTTP clients on each,
// events published in the processes. Every distributed engine runs it.

const TOPICS = Array.from({ length: 40 }, (_, i) => `t/${i}`)

interface Published {
  topics: string[]
  data: string
}

/** The events of `published` that `selectors` match, in publish order. */
function matching(selectors: string[], published: Published[]): string[] {
  return published
    .filter(({ topics }) => topics.some((t) => selectors.some((s) => selectorMatches(s, t))))
    .map(({ data }) => data)
}

/** Selectors for client `i`: some exact topics, some patterns. */
function selectorsOf(i: number): string[] {
  if (i % 4 === 3) return ['t/*']
  return [TOPICS[i]!, TOPICS[i + 10]!, TOPICS[i + 20]!, TOPICS[(i * 7) % 40]!]
}

/**
 * `batches` batches of `size` events, each to one topic (so that a topic's
 * order is one shard's log order) and every fifth to three topics (delivered
 * once per session however many it matches).
 */
function plan(batches: number, size: number, tag: string): Published[][] {
  return Array.from({ length: batches }, (_, b) =>
    Array.from({ length: size }, (_, i) => {
      const n = b * size + i
      const topics =
        n % 5 === 4
          ? [TOPICS[n % 40]!, TOPICS[(n * 3) % 40]!, TOPICS[(n * 11) % 40]!]
          : [TOPICS[(n * 7) % 40]!]
      return { topics: [...new Set(topics)], data: `${tag}${n}` }
    }),
  )
}

/**
 * Every expected event exactly once, and for each topic the single-topic
 * events in the same relative order as every other client sees them (the
 * log's order) and as their publisher published them.
 */
function checkReceived(
  received: string[],
  want: string[],
  published: Published[],
  logOrder: Map<string, string[]>,
) {
  expect([...received].sort()).toEqual([...want].sort())
  const single = new Map(
    published.filter((p) => p.topics.length === 1).map((p) => [p.data, p.topics[0]!]),
  )
  for (const topic of TOPICS) {
    const seen = received.filter((data) => single.get(data) === topic)
    const known = logOrder.get(topic)
    if (known === undefined || seen.length > known.length) logOrder.set(topic, seen)
    else expect(known.filter((data) => seen.includes(data))).toEqual(seen)
    for (const tag of ['a', 'b']) {
      const mine = seen.filter((data) => data.startsWith(tag))
      expect(mine).toEqual([...mine].sort((x, y) => Number(x.slice(1)) - Number(y.slice(1))))
    }
  }
}

/**
 * Defines the process tests in the enclosing `describe`, on `group`'s server
 * processes: two processes with clients on both; kill -9 of one, its clients
 * resuming on the other.
 */
export function runProcessSuite(group: ServerGroup): void {
  const sources: EventSource[] = []
  afterAll(async () => {
    for (const source of sources) source.close()
    await group.stop()
  })

  test('two processes, 40 topics, clients on both: each gets exactly its events, once, in order', async () => {
    const [a, b] = await group.start(2)
    const clients = Array.from({ length: 8 }, (_, i) => {
      const selectors = selectorsOf(i)
      return { selectors, stream: group.connect((i % 2 ? b : a)!, selectors) }
    })
    await until(() => clients.every(({ stream }) => isLive(stream)), 'every client live')
    const fromA = plan(4, 50, 'a')
    const fromB = plan(4, 50, 'b')
    // Both processes publish at once, each its events in order.
    const acknowledged = await Promise.all([
      (async () => {
        for (const batch of fromA) expect(await a!.publish(batch)).not.toContain(false)
      })(),
      (async () => {
        for (const batch of fromB) expect(await b!.publish(batch)).not.toContain(false)
      })(),
    ])
    expect(acknowledged).toHaveLength(2)
    const published = [...fromA.flat(), ...fromB.flat()]
    const logOrder = new Map<string, string[]>()
    for (const { selectors, stream } of clients) {
      const want = matching(selectors, published)
      const messages = () => stream.events.filter((event) => event.type !== 'ready')
      await until(() => messages().length >= want.length, `${want.length} events for ${selectors}`)
      expect(messages().every((event) => event.type === 'message')).toBe(true)
      checkReceived(
        messages().map((event) => event.data),
        want,
        published,
        logOrder,
      )
    }
    for (const server of [a!, b!]) expect((await server.stats()).engineErrors).toBe(0)
  })

  test('kill -9 of a process: its clients reconnect to the other and resume, nothing lost or twice', async () => {
    const [doomed, survivor] = await group.start(2)
    // What a load balancer does: the first process while it answers, else the other.
    const balanced = async (input: string | URL | Request, init?: RequestInit) => {
      const path = new URL(String(input)).pathname + new URL(String(input)).search
      try {
        return await fetch(doomed!.url + path, init)
      } catch {
        return await fetch(survivor!.url + path, init)
      }
    }
    const clients = Array.from({ length: 4 }, (_, i) => {
      const selectors = selectorsOf(i)
      const source = new EventSource(eventsUrl('http://balancer', selectors), { fetch: balanced })
      sources.push(source)
      const received: string[] = []
      const resyncs: string[] = []
      let ready = 0
      source.addEventListener('message', (event) => received.push(event.data))
      source.addEventListener('resync', (event) => resyncs.push(event.data))
      source.addEventListener('ready', () => ready++)
      return { selectors, received, resyncs, ready: () => ready }
    })
    await until(() => clients.every(({ ready }) => ready() === 1), 'four live clients')
    expect((await doomed!.stats()).sessions).toBe(4)

    const batches = plan(10, 30, 'a')
    for (const [i, batch] of batches.entries()) {
      if (i === 3) {
        doomed!.child.kill('SIGKILL')
        expect(await doomed!.exited).toMatchObject({ signal: 'SIGKILL' })
      }
      expect(await survivor!.publish(batch)).not.toContain(false)
    }
    const published = batches.flat()
    const logOrder = new Map<string, string[]>()
    for (const { selectors, received, resyncs, ready } of clients) {
      const want = matching(selectors, published)
      // The replay comes before the second `ready` (sent once the
      // subscription is live): wait for both, never count one in flight.
      await until(
        () => received.length >= want.length && ready() >= 2,
        `${want.length} events and the second ready after the failover`,
        15_000,
      )
      expect(resyncs).toEqual([])
      expect(ready()).toBe(2)
      checkReceived(received, want, published, logOrder)
    }
    expect((await survivor!.stats()).sessions).toBe(4)
  })
}
