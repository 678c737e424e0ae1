import { createHub, createMemoryEngine, type Engine, type ShardReadResult } from '@sse/core'
import { describe, expect, test } from 'vitest'
import { openSession } from './fixtures'

/** A memory engine whose reads are counted and, optionally, answered later (as a network's are). */
function countingEngine(delayMs = 0): Engine & { reads: number } {
  const inner = createMemoryEngine({ maxEvents: 10_000 })
  const engine = {
    ...inner,
    reads: 0,
    read(shard: number, position: string) {
      engine.reads++
      const result = inner.read(shard, position) as ShardReadResult
      if (delayMs === 0) return result
      return new Promise<ShardReadResult>((resolve) => setTimeout(() => resolve(result), delayMs))
    },
  }
  return engine
}

async function lastIdAfter(hub: ReturnType<typeof createHub>, count: number): Promise<string> {
  const { sink, session } = openSession()
  await hub.subscribe(session, 'news').ready
  for (let i = 0; i < count; i++) await hub.publish('news', `e${i}`)
  const id = sink.events().at(-1)!.lastEventId
  session.close()
  return id
}

describe('coalesced history reads', () => {
  test('a storm of resumes from one position reads history once, and each session gets all it missed', async () => {
    const engine = countingEngine()
    const hub = createHub({ engine })
    const from = await lastIdAfter(hub, 1)
    for (let i = 1; i <= 100; i++) await hub.publish('news', `e${i}`)
    const before = engine.reads
    const resumed = Array.from({ length: 500 }, () => openSession(from))
    await Promise.all(resumed.map(({ session }) => hub.subscribe(session, 'news').ready))
    expect(engine.reads - before).toBe(1)
    const missed = Array.from({ length: 100 }, (_, i) => `e${i + 1}`)
    for (const { sink } of resumed) expect(sink.events().map((e) => e.data)).toEqual(missed)
    hub.close()
  })

  test('coalesceReads: false reads once per session', async () => {
    const engine = countingEngine()
    const hub = createHub({ engine, coalesceReads: false })
    const from = await lastIdAfter(hub, 1)
    await hub.publish('news', 'missed')
    const before = engine.reads
    const resumed = Array.from({ length: 50 }, () => openSession(from))
    await Promise.all(resumed.map(({ session }) => hub.subscribe(session, 'news').ready))
    expect(engine.reads - before).toBe(50)
    hub.close()
  })

  test('a read is not shared once an event has arrived: a session joining later still gets everything once', async () => {
    // Reads take 20 ms; events arrive meanwhile. Sharing a read issued before
    // an event that a later session did not hold would lose that event.
    const engine = countingEngine(20)
    const hub = createHub({ engine })
    const from = await lastIdAfter(hub, 1)
    await hub.publish('news', 'missed')
    const before = engine.reads
    const first = Array.from({ length: 10 }, () => openSession(from))
    const firstReady = first.map(({ session }) => hub.subscribe(session, 'news').ready)
    // Their read is in flight (it takes 20 ms) when the next event arrives.
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(engine.reads - before).toBe(1)
    await hub.publish('news', 'while reading')
    const later = Array.from({ length: 10 }, () => openSession(from))
    const laterReady = later.map(({ session }) => hub.subscribe(session, 'news').ready)
    await Promise.all([...firstReady, ...laterReady])
    await hub.publish('news', 'live')
    // One read before the event, one after it: never one per session.
    expect(engine.reads - before).toBe(2)
    for (const { sink } of [...first, ...later]) {
      expect(sink.events().map((e) => e.data)).toEqual(['missed', 'while reading', 'live'])
    }
    hub.close()
  })

  test('a failed read is not kept: the next resume reads again', async () => {
    const inner = createMemoryEngine()
    let fail = true
    const engine: Engine = {
      ...inner,
      read(shard, position) {
        if (fail) return Promise.reject(new Error('store down'))
        return inner.read(shard, position)
      },
    }
    const errors: unknown[] = []
    const hub = createHub({ engine, onError: (error) => errors.push(error) })
    const from = await lastIdAfter(hub, 1)
    await hub.publish('news', 'missed')
    const failed = openSession(from)
    await hub.subscribe(failed.session, 'news').ready
    expect(failed.sink.events().map((e) => e.type)).toEqual(['resync'])
    fail = false
    const again = openSession(from)
    await hub.subscribe(again.session, 'news').ready
    expect(again.sink.events().map((e) => e.data)).toEqual(['missed'])
    expect(errors).toHaveLength(1)
    hub.close()
  })
})
