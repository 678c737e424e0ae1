import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createHub, createSession, type SlowClientInfo, type SseSink } from '@sse/core'
import { describe, expect, test } from 'vitest'
import { memorySink } from './fixtures'

// A full collection before each heap reading, so the numbers are live memory.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function liveHeap(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** A transport that never drains: the client stopped reading. */
function stalledSink(): SseSink {
  const ignore = (): void => undefined
  return { write: () => false, onDrain: ignore, close: ignore, onClientGone: ignore }
}

describe('slow clients', () => {
  test('drop-oldest leaked one array slot per frame ever sent to a stalled client', () => {
    const session = createSession(stalledSink(), {
      slowClient: 'drop-oldest',
      maxQueueBytes: 4096,
      heartbeat: false,
      retry: false,
    })
    // One encoded frame written again and again: the queue path of `send`
    // without its encoding cost, so millions of frames stay quick under load.
    const frame = new TextEncoder().encode('data: x\n\n')
    // Warm up so the baseline includes what the first crossing allocates.
    for (let i = 0; i < 10_000; i++) session.write(frame)
    const before = liveHeap()
    for (let i = 0; i < 3_000_000; i++) session.write(frame)
    const grown = liveHeap() - before
    expect(session.queuedBytes).toBeLessThanOrEqual(4096)
    // Unbounded, this was +34 MB (one 8-byte slot per frame); the queue is
    // bounded by maxQueueBytes (4 KiB of 9-byte frames: 455 slots).
    expect(grown).toBeLessThan(2 * 1024 * 1024)
    expect(session.closed).toBe(false)
  }, 60_000)

  test('onSlowClient fired on every frame; it fires once per crossing of the bound', () => {
    const sink = memorySink()
    const calls: SlowClientInfo[] = []
    const session = createSession(sink, {
      slowClient: 'drop-oldest',
      maxQueueBytes: 30,
      heartbeat: false,
      retry: false,
      onSlowClient: (_session, info) => calls.push(info),
    })
    sink.full = true
    for (let i = 0; i < 1000; i++) session.send(String(i % 100).padStart(2, '0'))
    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ policy: 'drop-oldest', dropped: 1 })
    // The client catches up: the queue empties, and the next crossing reports again.
    sink.full = false
    sink.drain()
    expect(session.queuedBytes).toBe(0)
    sink.full = true
    for (let i = 0; i < 1000; i++) session.send(String(i % 100).padStart(2, '0'))
    expect(calls).toHaveLength(2)
  })

  test('drop-oldest still delivers the newest frames after millions of drops', () => {
    const sink = memorySink()
    const session = createSession(sink, {
      slowClient: 'drop-oldest',
      maxQueueBytes: 30,
      heartbeat: false,
      retry: false,
    })
    sink.full = true
    for (let i = 0; i < 200_000; i++) session.send(String(i % 100).padStart(2, '0'))
    sink.full = false
    sink.drain()
    // The first frame reached the transport; the 3 newest fit the bound.
    expect(sink.events().map((e) => e.data)).toEqual(['00', '97', '98', '99'])
  })

  test('close() dropped frames queued behind a full transport; they are delivered, then the stream ends', () => {
    const sink = memorySink()
    const session = createSession(sink, { heartbeat: false, retry: false })
    sink.full = true
    expect(session.send('first')).toBe(true) // reaches the transport, which is now full
    expect(session.send('last')).toBe(true) // queued
    expect(session.send('done', { event: 'done' })).toBe(true) // queued
    session.close()
    expect(sink.events().map((e) => e.data)).toEqual(['first', 'last', 'done'])
    expect(sink.closed).toBe(true)
  })

  test('a client that left, or one closed as too slow, is sent nothing more', () => {
    const gone = memorySink()
    const left = createSession(gone, { heartbeat: false, retry: false })
    gone.full = true
    left.send('first')
    left.send('queued')
    gone.disconnect()
    expect(gone.events().map((e) => e.data)).toEqual(['first'])

    const slow = memorySink()
    const session = createSession(slow, { heartbeat: false, retry: false, maxQueueBytes: 20 })
    slow.full = true
    let accepted = 0
    while (session.send('xxxx')) accepted++
    // 'data: xxxx\n\n' is 12 bytes: one reached the transport, one fit the 20-byte queue.
    expect(accepted).toBe(2)
    expect(session.closed).toBe(true)
    expect(slow.events()).toHaveLength(1)
  })

  test.each([
    ['slowClient', { slowClient: 'nope' }],
    ['conflateFallback', { conflateFallback: 'drop-oldest' }],
    ['conflateFallback', { slowClient: 'conflate', conflateFallback: 'conflate' }],
    ['onSlowClient', { onSlowClient: 'log' }],
    ['serialize', { serialize: JSON }],
    ['retry', { retry: -1 }],
    ['retry', { retry: 1.5 }],
    ['maxQueueBytes', { maxQueueBytes: Number.NaN }],
  ])('an invalid `%s` option is a TypeError naming it (%o)', (name, options) => {
    expect(() => createSession(memorySink(), options as never)).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        message: expect.stringContaining(`\`${name}\``),
      }),
    )
  })
})

describe('keyed conflation', () => {
  const conflate = { slowClient: 'conflate', heartbeat: false, retry: false } as const

  test('a queued keyed event is replaced by a newer one with its key, which goes to the end of the queue', () => {
    const sink = memorySink()
    const session = createSession(sink, conflate)
    sink.full = true
    session.send('a1', { key: 'a' }) // reaches the transport, which is now full
    session.send('a2', { key: 'a' })
    session.send('b1', { key: 'b' })
    session.send('plain')
    session.send('a3', { key: 'a', event: 'price', id: '7' })
    session.send('b2', { key: 'b' })
    sink.full = false
    sink.drain()
    expect(sink.events().map((e) => [e.data, e.type, e.lastEventId])).toEqual([
      ['a1', 'message', ''],
      ['plain', 'message', ''],
      ['a3', 'price', '7'],
      ['b2', 'message', '7'],
    ])
    // The key is the server's business: nothing of it reaches the wire.
    expect(sink.text()).not.toContain('key')
  })

  test('a fast client gets every event: conflation only touches what is queued', () => {
    const sink = memorySink()
    const session = createSession(sink, conflate)
    for (let i = 0; i < 100; i++) session.send(i, { key: 'k' })
    expect(sink.events()).toHaveLength(100)
  })

  test('past the bound the fallback applies: close by default, drop-oldest when asked', () => {
    const closing = memorySink()
    const reports: SlowClientInfo[] = []
    const closed = createSession(closing, {
      ...conflate,
      maxQueueBytes: 100,
      onSlowClient: (_s, info) => reports.push(info),
    })
    closing.full = true
    // Keyed, but every key distinct: nothing to conflate.
    for (let i = 0; i < 20 && !closed.closed; i++) closed.send('x'.repeat(10), { key: `k${i}` })
    expect(closed.closeReason).toBe('slow-client')
    expect(reports).toEqual([expect.objectContaining({ policy: 'close', dropped: 0 })])

    const dropping = memorySink()
    const kept = createSession(dropping, {
      ...conflate,
      conflateFallback: 'drop-oldest',
      maxQueueBytes: 100,
    })
    dropping.full = true
    kept.send('first')
    for (let i = 0; i < 50; i++) kept.send(`u${String(i).padStart(2, '0')}`)
    kept.send('k1', { key: 'k' })
    kept.send('k2', { key: 'k' })
    expect(kept.closed).toBe(false)
    expect(kept.queuedBytes).toBeLessThanOrEqual(100)
    dropping.full = false
    dropping.drain()
    const data = dropping.events().map((e) => e.data)
    expect(data[0]).toBe('first')
    expect(data.at(-1)).toBe('k2')
    expect(data).not.toContain('k1')
    expect(data.slice(1, -1)).toEqual(
      Array.from({ length: data.length - 2 }, (_, i) => `u${50 - (data.length - 2) + i}`),
    )
  })

  test('a stalled client updated millions of times on a few keys holds one frame per key', () => {
    const session = createSession(stalledSink(), { ...conflate, maxQueueBytes: 4096 })
    const encoder = new TextEncoder()
    const frames = Array.from({ length: 8 }, (_, key) => encoder.encode(`data: ${key}\n\n`))
    for (let i = 0; i < 10_000; i++) session.write(frames[i % 8]!, `k${i % 8}`)
    const before = liveHeap()
    for (let i = 0; i < 3_000_000; i++) session.write(frames[i % 8]!, `k${i % 8}`)
    const grown = liveHeap() - before
    // 8 keys of 9-byte frames, queued once each (the first went to the transport).
    expect(session.queuedBytes).toBe(8 * 9)
    expect(grown).toBeLessThan(2 * 1024 * 1024)
    expect(session.closed).toBe(false)
  }, 60_000)

  test('a hub broadcast conflates per key for a slow session; a fast one gets every event; ids only grow', async () => {
    const hub = createHub()
    const fastSink = memorySink()
    const slowSink = memorySink()
    const fast = createSession(fastSink, conflate)
    const slow = createSession(slowSink, conflate)
    await hub.subscribe(fast, 'prices/*').ready
    await hub.subscribe(slow, 'prices/*').ready
    slowSink.full = true
    const last = new Map<string, string>()
    for (let i = 0; i < 1000; i++) {
      const symbol = `s${i % 10}`
      if (i > 0) {
        last.delete(symbol)
        last.set(symbol, `${symbol}@${i}`)
      }
      await hub.publish(`prices/${symbol}`, `${symbol}@${i}`, { key: symbol })
    }
    await hub.publish('prices/news', 'unkeyed')
    expect(slow.queuedBytes).toBeLessThan(1000)
    slowSink.full = false
    slowSink.drain()
    const slowEvents = slowSink.events().filter((e) => e.data !== '')
    expect(fastSink.events().filter((e) => e.data !== '')).toHaveLength(1001)
    // The first event went to the transport before it filled; then the newest of each key.
    // The first event reached the transport before it filled; then the
    // newest of each key, in the order of their last update; then the rest.
    expect(slowEvents.map((e) => e.data)).toEqual(['s0@0', ...last.values(), 'unkeyed'])
    // Ids are `0:<epoch>-<sequence>` (one shard): the sequence only grows.
    const ids = slowEvents.map((e) => Number(e.lastEventId.split('-').at(-1)))
    expect(ids.every(Number.isInteger)).toBe(true)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(new Set(ids).size).toBe(ids.length)
    expect(slowEvents.at(-1)!.lastEventId).toBe(fastSink.events().at(-1)!.lastEventId)
    hub.close()
  })

  test('a replay to a session that cannot keep up conflates by key too', async () => {
    const hub = createHub()
    const first = memorySink()
    const session = createSession(first, conflate)
    await hub.subscribe(session, 'prices/*').ready
    await hub.publish('prices/a', 'a@0', { key: 'a' })
    const resumeFrom = first.events().at(-1)!.lastEventId
    session.close()
    for (let i = 1; i <= 300; i++) {
      await hub.publish(`prices/${i % 2 ? 'a' : 'b'}`, `${i % 2 ? 'a' : 'b'}@${i}`, {
        key: i % 2 ? 'a' : 'b',
      })
    }
    const second = memorySink()
    second.full = true
    const resumed = createSession(second, { ...conflate, lastEventId: resumeFrom })
    await hub.subscribe(resumed, 'prices/*').ready
    second.full = false
    second.drain()
    // One replayed frame reached the full transport; then the newest of each key.
    expect(second.events().map((e) => e.data)).toEqual(['a@1', 'a@299', 'b@300'])
    expect(second.events().at(-1)!.lastEventId).not.toBe(resumeFrom)
    hub.close()
  })
})
