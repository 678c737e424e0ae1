import { createMemoryEngine, type ShardEvent, type ShardReadResult } from '@sse/core'
import { describe, expect, test } from 'vitest'

function positions(engine: ReturnType<typeof createMemoryEngine>, count: number): string[] {
  const seen: string[] = []
  const following = engine.follow(0, {
    event: (e) => seen.push(e.position),
    reset: () => undefined,
  })
  for (let i = 0; i < count; i++) engine.append([0], { topics: ['t'], data: String(i) })
  following.stop()
  return seen
}

describe('createMemoryEngine', () => {
  test('reads exactly the events after a position, oldest first, with topics and type', async () => {
    const engine = createMemoryEngine()
    const start = await engine.follow(0, { event: () => undefined, reset: () => undefined }).ready
    engine.append([0], { topics: ['a', 'b'], data: '1', event: 'price' })
    engine.append([0], { topics: ['c'], data: '2' })
    const all = engine.read(0, start)
    expect(all).toMatchObject({
      gap: false,
      events: [
        { topics: ['a', 'b'], data: '1', event: 'price' },
        { topics: ['c'], data: '2', event: undefined },
      ],
    })
    const first = (all as { events: ShardEvent[] }).events[0]!.position
    expect(engine.read(0, first)).toMatchObject({ gap: false, events: [{ data: '2' }] })
  })

  test('followers get every append once, in order, until they stop', () => {
    const engine = createMemoryEngine()
    expect(positions(engine, 5)).toHaveLength(5)
    const got: string[] = []
    const following = engine.follow(0, { event: (e) => got.push(e.data), reset: () => undefined })
    engine.append([0], { topics: ['t'], data: 'x' })
    following.stop()
    engine.append([0], { topics: ['t'], data: 'y' })
    expect(got).toEqual(['x'])
  })

  test('is bounded by count: older positions become an expired gap', () => {
    const engine = createMemoryEngine({ maxEvents: 3 })
    const seen = positions(engine, 10)
    expect(engine.read(0, seen[6]!)).toMatchObject({ gap: false, events: { length: 3 } })
    expect(engine.read(0, seen[5]!)).toEqual({ gap: true, reason: 'expired' })
  })

  test('is bounded by age', () => {
    let now = 0
    const engine = createMemoryEngine({ maxAge: 1000, now: () => now })
    const seen = positions(engine, 2)
    now = 500
    expect(engine.read(0, seen[0]!)).toMatchObject({ gap: false, events: { length: 1 } })
    now = 1001
    expect(engine.read(0, seen[0]!)).toEqual({ gap: true, reason: 'expired' })
    expect(engine.read(0, seen[1]!)).toEqual({ gap: false, events: [] })
  })

  test('maxEvents 0 keeps no history: live only, and any missed event is a gap', () => {
    const engine = createMemoryEngine({ maxEvents: 0 })
    const seen = positions(engine, 3)
    expect(engine.read(0, seen[2]!)).toEqual({ gap: false, events: [] })
    expect(engine.read(0, seen[1]!)).toEqual({ gap: true, reason: 'expired' })
  })

  test('positions it never issued are unknown: other engines, garbage, the future', () => {
    const engine = createMemoryEngine()
    const other = createMemoryEngine()
    const [mine] = positions(engine, 1) as [string]
    const [theirs] = positions(other, 1) as [string]
    const future = mine.replace(/-\d+$/, '-99')
    for (const position of [theirs, future, 'garbage', `${mine}0`, mine.replace(/-/, '-0')]) {
      expect(
        engine.isPosition(position) && (engine.read(0, position) as ShardReadResult).gap === false,
        position,
      ).toBe(false)
    }
  })

  test('options are validated', () => {
    expect(() => createMemoryEngine({ maxEvents: -1 })).toThrow(TypeError)
    expect(() => createMemoryEngine({ maxEvents: 1.5 })).toThrow(TypeError)
    expect(() => createMemoryEngine({ maxAge: 0 })).toThrow(TypeError)
  })
})
