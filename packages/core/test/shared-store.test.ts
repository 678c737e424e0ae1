import {
  createChannel,
  createSession,
  type EventStore,
  MemoryEventStore,
  type StoredEvent,
} from '@sse/core'
import { describe, expect, test } from 'vitest'
import { memorySink } from './fixtures'

/**
 * One log shared by several channels, as Redis is shared by several
 * processes: `subscribe` delivers every appended event to every subscriber in
 * log order, after a random delay that is independent of when `append`
 * returns (a different connection, as with XREAD next to XADD).
 */
function sharedLog(): EventStore & { subscribers: number } {
  const inner = new MemoryEventStore({ maxEvents: 100_000 })
  const listeners = new Set<(event: StoredEvent) => void>()
  // Per-subscriber delivery chain: random delays, but never out of order.
  const chains = new Map<(event: StoredEvent) => void, Promise<void>>()
  const delay = () => new Promise((r) => setTimeout(r, Math.random() * 3))
  return {
    get subscribers() {
      return listeners.size
    },
    async append(stream, event) {
      const id = inner.append(stream, event)
      for (const listener of listeners) {
        const stored: StoredEvent = { id, data: event.data, event: event.event }
        const next = chains
          .get(listener)!
          .then(delay)
          .then(() => {
            if (listeners.has(listener)) listener(stored)
          })
        chains.set(listener, next)
      }
      await delay()
      return id
    },
    async readAfter(stream, lastEventId) {
      await delay()
      return inner.readAfter(stream, lastEventId)
    },
    subscribe(_stream, listener) {
      listeners.add(listener)
      chains.set(listener, Promise.resolve())
      return () => {
        listeners.delete(listener)
        chains.delete(listener)
      }
    },
  }
}

const quiet = { retry: false, heartbeat: false } as const

describe('a store shared between processes (subscribe)', () => {
  test('a broadcast in one process reaches every process, in the same order, once', async () => {
    const log = sharedLog()
    const processes = [0, 1, 2].map(() => createChannel({ store: log }))
    const sinks = processes.map((channel) => {
      const sink = memorySink()
      void channel.join(createSession(sink, quiet))
      return sink
    })
    // Every process publishes concurrently.
    const results = await Promise.all(
      processes.flatMap((channel, p) =>
        Array.from({ length: 30 }, (_, i) => channel.broadcast(`${p}:${i}`)),
      ),
    )
    expect(results.every((r) => r.delivered === 1)).toBe(true)
    // Each broadcast resolved when its own process delivered it; the others
    // receive it through the log a little later.
    for (let waited = 0; waited < 2000 && sinks.some((s) => s.events().length < 90); waited += 10) {
      await new Promise((r) => setTimeout(r, 10))
    }
    const sequences = sinks.map((sink) => sink.events().map((e) => `${e.lastEventId}=${e.data}`))
    expect(sequences[0]).toHaveLength(90)
    expect(new Set(sequences[0]).size).toBe(90)
    expect(sequences[1]).toEqual(sequences[0])
    expect(sequences[2]).toEqual(sequences[0])
  })

  test('broadcast resolves only after the event came back through the log', async () => {
    const log = sharedLog()
    const channel = createChannel({ store: log })
    const sink = memorySink()
    await channel.join(createSession(sink, quiet))
    const { id } = await channel.broadcast('x')
    expect(sink.events()).toEqual([{ type: 'message', data: 'x', lastEventId: id }])
  })

  test('a reconnect during concurrent publishing gets each missed event exactly once', async () => {
    const log = sharedLog()
    const publisher = createChannel({ store: log })
    const other = createChannel({ store: log })
    const watcher = memorySink()
    await other.join(createSession(watcher, quiet))
    const publishing = (async () => {
      for (let i = 0; i < 80; i++) await publisher.broadcast(i)
    })()
    const reconnects: Array<{ sink: ReturnType<typeof memorySink>; from: number }> = []
    while (reconnects.length < 6) {
      await new Promise((r) => setTimeout(r, 4))
      const seen = watcher.events()
      if (seen.length === 0) continue
      const from = Math.floor(Math.random() * seen.length)
      const sink = memorySink()
      reconnects.push({ sink, from })
      void other.join(createSession(sink, { ...quiet, lastEventId: seen[from]!.lastEventId }))
    }
    await publishing
    await new Promise((r) => setTimeout(r, 50))
    const all = watcher.events().map((e) => e.data)
    expect(all).toEqual(Array.from({ length: 80 }, (_, i) => String(i)))
    for (const { sink, from } of reconnects) {
      expect(sink.events().map((e) => e.data)).toEqual(all.slice(from + 1))
    }
  })

  test('close() stops the subscription and closes every session', async () => {
    const log = sharedLog()
    const channel = createChannel({ store: log })
    const sink = memorySink()
    const session = createSession(sink, quiet)
    await channel.join(session)
    expect(log.subscribers).toBe(1)
    channel.close()
    channel.close()
    expect(log.subscribers).toBe(0)
    expect(session.closed).toBe(true)
    expect(channel.size).toBe(0)
    expect(() => channel.broadcast('late')).toThrow(TypeError)
  })

  test('filter is refused on a channel with a store: a replay could not honour it', () => {
    const channel = createChannel({ store: new MemoryEventStore() })
    expect(() => channel.broadcast('secret', { filter: () => true })).toThrow(TypeError)
  })

  test('a broadcast whose event never comes back rejects after deliveryTimeout', async () => {
    const inner = new MemoryEventStore()
    // Appends succeed, but the subscription never delivers (Redis dropped after XADD).
    const deaf: EventStore = {
      append: async (stream, event) => inner.append(stream, event),
      readAfter: (stream, id) => inner.readAfter(stream, id),
      subscribe: () => () => undefined,
    }
    const channel = createChannel({ store: deaf, deliveryTimeout: 50 })
    await expect(channel.broadcast('lost')).rejects.toMatchObject({ code: 'SSE_STORE' })
  })

  test('close() rejects broadcasts still waiting for the log', async () => {
    const inner = new MemoryEventStore()
    const deaf: EventStore = {
      append: async (stream, event) => inner.append(stream, event),
      readAfter: (stream, id) => inner.readAfter(stream, id),
      subscribe: () => () => undefined,
    }
    const channel = createChannel({ store: deaf })
    const pending = channel.broadcast('x')
    await new Promise((r) => setTimeout(r, 5))
    channel.close()
    await expect(pending).rejects.toMatchObject({ code: 'SSE_STORE' })
  })

  test('our event delivered before its append returns, amid a flood from other processes, still resolves', async () => {
    const inner = new MemoryEventStore({ maxEvents: 100_000 })
    let listener: ((event: StoredEvent) => void) | undefined
    let releaseAppend!: () => void
    const store: EventStore = {
      async append(stream, event) {
        const id = inner.append(stream, event)
        // The log delivers our event first, then 5,000 foreign ones, and only
        // then does our append's reply arrive.
        listener!({ id, data: event.data })
        for (let i = 0; i < 5000; i++) {
          listener!({ id: inner.append(stream, { data: 'foreign' }), data: 'foreign' })
        }
        await new Promise<void>((r) => {
          releaseAppend = r
          setTimeout(r, 5)
        })
        return id
      },
      readAfter: (stream, id) => inner.readAfter(stream, id),
      subscribe(_stream, l) {
        listener = l
        return () => undefined
      },
    }
    const channel = createChannel({ store, deliveryTimeout: 1000 })
    const sink = memorySink()
    await channel.join(createSession(sink, quiet))
    const result = await channel.broadcast('mine')
    void releaseAppend
    expect(result.delivered).toBe(1)
    expect(sink.events()[0]).toMatchObject({ data: 'mine', lastEventId: result.id })
  })
})
