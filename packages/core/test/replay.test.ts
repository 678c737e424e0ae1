import {
  createChannel,
  createSession,
  type EventStore,
  MemoryEventStore,
  type ReadAfterResult,
} from '@sse/core'
import { describe, expect, test } from 'vitest'
import { memorySink } from './fixtures'

describe('MemoryEventStore', () => {
  test('reads exactly the events after an id, oldest first', () => {
    const store = new MemoryEventStore()
    const ids = ['a', 'b', 'c', 'd'].map((data) => store.append('s', { data }))
    expect(store.readAfter('s', ids[1]!)).toEqual({
      gap: false,
      events: [
        { id: ids[2], data: 'c' },
        { id: ids[3], data: 'd' },
      ],
    })
    expect(store.readAfter('s', ids[3]!)).toEqual({ gap: false, events: [] })
    expect(store.readAfter('s', store.originId)).toMatchObject({
      gap: false,
      events: { length: 4 },
    })
  })

  test('keeps the event type', () => {
    const store = new MemoryEventStore()
    const first = store.append('s', { data: '1' })
    const second = store.append('s', { data: '2', event: 'price' })
    expect(store.readAfter('s', first)).toEqual({
      gap: false,
      events: [{ id: second, data: '2', event: 'price' }],
    })
  })

  test('is bounded by count: older ids become an expired gap', () => {
    const store = new MemoryEventStore({ maxEvents: 3 })
    const ids = Array.from({ length: 10 }, (_, i) => store.append('s', { data: String(i) }))
    // Events 7, 8, 9 are kept; a client that saw 6 lost nothing.
    const fromSix = store.readAfter('s', ids[6]!)
    expect(fromSix.gap === false && fromSix.events.map((e) => e.data)).toEqual(['7', '8', '9'])
    expect(store.readAfter('s', ids[5]!)).toEqual({
      gap: true,
      reason: 'expired',
      latestId: ids[9],
    })
  })

  test('is bounded by age', () => {
    let now = 1_000_000
    const store = new MemoryEventStore({ maxAge: 1000, now: () => now })
    const old = store.append('s', { data: 'old' })
    const older = store.append('s', { data: 'older' })
    now += 600
    store.append('s', { data: 'new' })
    now += 500 // the first two are now 1100 ms old
    expect(store.readAfter('s', old)).toMatchObject({ gap: true, reason: 'expired' })
    const fromOlder = store.readAfter('s', older)
    expect(fromOlder.gap === false && fromOlder.events.map((e) => e.data)).toEqual(['new'])
  })

  test('ids it never issued are an unknown gap: other epochs, garbage, the future', () => {
    const store = new MemoryEventStore()
    const other = new MemoryEventStore()
    const id = store.append('s', { data: 'x' })
    const foreign = other.append('s', { data: 'x' })
    for (const bad of [foreign, 'garbage', '', '-', `${id.split('-')[0]}-99`, `${id}0`, '1e3']) {
      expect(store.readAfter('s', bad), bad).toMatchObject({ gap: true, reason: 'unknown' })
    }
  })

  test('streams are independent', () => {
    const store = new MemoryEventStore({ maxEvents: 2 })
    const a = store.append('a', { data: 'a1' })
    for (let i = 0; i < 5; i++) store.append('b', { data: 'b' })
    expect(store.readAfter('a', a)).toEqual({ gap: false, events: [] })
  })
})

/** Wraps a store so every call resolves after a random delay, like a network store. */
function slowStore(inner: EventStore, maxDelayMs: number): EventStore {
  const delay = () => new Promise((r) => setTimeout(r, Math.random() * maxDelayMs))
  return {
    async append(stream, event) {
      // Assign the id in call order, as Redis does for commands on one connection.
      const id = await inner.append(stream, event)
      await delay()
      return id
    },
    async readAfter(stream, lastEventId): Promise<ReadAfterResult> {
      await delay()
      return inner.readAfter(stream, lastEventId)
    },
  }
}

describe('replay through a channel', () => {
  test('a reconnecting session gets exactly the missed events, then live ones', async () => {
    const store = new MemoryEventStore()
    const channel = createChannel({ store })
    const first = memorySink()
    const s1 = createSession(first, { retry: false, heartbeat: false })
    await channel.join(s1)
    for (let i = 0; i < 5; i++) await channel.broadcast(i)
    first.disconnect()
    const seen = first.events()
    const lastId = seen.at(-1)!.lastEventId
    for (let i = 5; i < 8; i++) await channel.broadcast(i)

    const second = memorySink()
    const s2 = createSession(second, { retry: false, heartbeat: false, lastEventId: lastId })
    await channel.join(s2)
    await channel.broadcast(8)
    expect(seen.map((e) => e.data)).toEqual(['0', '1', '2', '3', '4'])
    expect(second.events().map((e) => e.data)).toEqual(['5', '6', '7', '8'])
  })

  test('nothing lost, nothing twice, with concurrent publishers during a slow replay', async () => {
    const channel = createChannel({
      store: slowStore(new MemoryEventStore({ maxEvents: 10_000 }), 3),
    })
    const watcher = memorySink()
    await channel.join(createSession(watcher, { retry: false, heartbeat: false }))
    const publishers = [0, 1, 2].map(async (p) => {
      for (let i = 0; i < 60; i++) {
        await channel.broadcast(`${p}:${i}`)
        if (i % 7 === 0) await new Promise((r) => setTimeout(r, 1))
      }
    })
    // Sessions reconnect while the publishers run, each from a different point.
    const reconnects: Array<{ sink: ReturnType<typeof memorySink>; from: number }> = []
    for (let k = 0; k < 8; k++) {
      await new Promise((r) => setTimeout(r, 5))
      const so_far = watcher.events()
      if (so_far.length === 0) continue
      const from = Math.floor(Math.random() * so_far.length)
      const sink = memorySink()
      const session = createSession(sink, {
        retry: false,
        heartbeat: false,
        lastEventId: so_far[from]!.lastEventId,
      })
      reconnects.push({ sink, from })
      void channel.join(session)
    }
    await Promise.all(publishers)
    await new Promise((r) => setTimeout(r, 20))

    const all = watcher.events().map((e) => e.data)
    expect(all).toHaveLength(180)
    expect(new Set(all).size).toBe(180)
    expect(reconnects.length).toBeGreaterThan(3)
    for (const { sink, from } of reconnects) {
      expect(sink.events().map((e) => e.data)).toEqual(all.slice(from + 1))
    }
  })

  test('a gap is never silent: onGap fires and the client gets a resync event', async () => {
    const store = new MemoryEventStore({ maxEvents: 2 })
    const gaps: unknown[] = []
    const channel = createChannel({ store, onGap: (_s, gap) => gaps.push(gap) })
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await channel.broadcast(i)).id!)
    const sink = memorySink()
    await channel.join(createSession(sink, { retry: false, heartbeat: false, lastEventId: ids[0] }))
    await channel.broadcast(5)
    expect(gaps).toEqual([{ lastEventId: ids[0], reason: 'expired' }])
    expect(sink.events()).toEqual([
      {
        type: 'resync',
        data: JSON.stringify({ lastEventId: ids[0], reason: 'expired' }),
        lastEventId: ids[4],
      },
      { type: 'message', data: '5', lastEventId: expect.any(String) },
    ])
  })

  test('an unknown id gets the resync event; resyncEvent: false sends nothing', async () => {
    const loud = createChannel({ store: new MemoryEventStore() })
    const quiet = createChannel({ store: new MemoryEventStore(), resyncEvent: false })
    const a = memorySink()
    const b = memorySink()
    await loud.join(createSession(a, { retry: false, heartbeat: false, lastEventId: 'forged' }))
    await quiet.join(createSession(b, { retry: false, heartbeat: false, lastEventId: 'forged' }))
    expect(a.events()).toMatchObject([{ type: 'resync' }])
    expect(b.events()).toEqual([])
  })

  test('a store that fails while replaying is reported and the session still gets live events', async () => {
    const errors: unknown[] = []
    const broken: EventStore = {
      append: () => 'x-1',
      readAfter: () => Promise.reject(new Error('connection lost')),
    }
    const channel = createChannel({ store: broken, onError: (e) => errors.push(e) })
    const sink = memorySink()
    await channel.join(createSession(sink, { retry: false, heartbeat: false, lastEventId: 'x-0' }))
    await channel.broadcast('live')
    expect(errors).toMatchObject([{ code: 'SSE_STORE' }])
    expect(sink.events().map((e) => e.type)).toEqual(['resync', 'message'])
  })

  test('a failing append rejects the broadcast with SSE_STORE and later broadcasts still go out', async () => {
    let fail = true
    const inner = new MemoryEventStore()
    const flaky: EventStore = {
      append: async (stream, event) => {
        if (fail) throw new Error('down')
        return inner.append(stream, event)
      },
      readAfter: (stream, id) => inner.readAfter(stream, id),
    }
    const channel = createChannel({ store: flaky })
    const sink = memorySink()
    await channel.join(createSession(sink, { retry: false, heartbeat: false }))
    await expect(channel.broadcast('lost')).rejects.toMatchObject({ code: 'SSE_STORE' })
    fail = false
    await channel.broadcast('kept')
    expect(sink.events().map((e) => e.data)).toEqual(['kept'])
  })

  test('a store-backed channel assigns ids itself', () => {
    const channel = createChannel({ store: new MemoryEventStore() })
    expect(() => channel.broadcast('x', { id: 'mine' })).toThrow(TypeError)
  })
})
