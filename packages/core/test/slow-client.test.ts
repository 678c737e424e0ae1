import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createSession, type SlowClientInfo, type SseSink } from '@sse/core'
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
