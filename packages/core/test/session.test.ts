import {
  createSession,
  createStreamHandler,
  type Session,
  SseError,
  type StreamBinding,
} from '@sse/core'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { type MemorySink, memorySink } from './fixtures'

afterEach(() => {
  vi.useRealTimers()
})

describe('open', () => {
  test('writes the retry hint first, 2000 ms by default', () => {
    const sink = memorySink()
    createSession(sink, { heartbeat: false })
    expect(sink.text()).toBe('retry: 2000\n')
  })

  test('retry is configurable and can be turned off', () => {
    const custom = memorySink()
    createSession(custom, { retry: 5000, heartbeat: false })
    expect(custom.text()).toBe('retry: 5000\n')
    const none = memorySink()
    createSession(none, { retry: false, heartbeat: false })
    expect(none.chunks).toHaveLength(0)
  })

  test('a sink whose client already left gives a closed session that writes nothing', () => {
    const sink = memorySink()
    sink.disconnect()
    const session = createSession(sink)
    expect(session.closed).toBe(true)
    expect(session.signal.aborted).toBe(true)
    expect(session.send('x')).toBe(false)
    expect(sink.chunks).toHaveLength(0)
  })

  test('exposes the lastEventId it was given', () => {
    expect(createSession(memorySink(), { lastEventId: 'a-7', heartbeat: false }).lastEventId).toBe(
      'a-7',
    )
  })
})

describe('send', () => {
  test('strings go as they are, other values as JSON', () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    session.send('plain')
    session.send({ a: [1, 2] }, { event: 'obj', id: '9' })
    session.send(42)
    expect(sink.events()).toEqual([
      { type: 'message', data: 'plain', lastEventId: '' },
      { type: 'obj', data: '{"a":[1,2]}', lastEventId: '9' },
      { type: 'message', data: '42', lastEventId: '9' },
    ])
  })

  test('a custom serializer is used, and line breaks in its output cannot forge events', () => {
    const sink = memorySink()
    const session = createSession(sink, {
      retry: false,
      heartbeat: false,
      serialize: (value) => `${String(value)}\n\nevent: forged\ndata: evil`,
    })
    session.send('x')
    expect(sink.events()).toEqual([
      { type: 'message', data: 'x\n\nevent: forged\ndata: evil', lastEventId: '' },
    ])
  })

  test('untrusted event names are rejected with SSE_INVALID_FIELD and nothing is written', () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    expect(() => session.send('x', { event: 'a\ndata: forged' })).toThrow(SseError)
    expect(sink.chunks).toHaveLength(0)
  })

  test('data with no text form (undefined, a BigInt, a cycle, a serializer returning a non-string) is SSE_INVALID_DATA, nothing written', () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    for (const data of [undefined, 10n, cycle, () => 1]) {
      expect(() => session.send(data)).toThrow(
        expect.objectContaining({ name: 'SseError', code: 'SSE_INVALID_DATA' }),
      )
    }
    const odd = createSession(sink, {
      retry: false,
      heartbeat: false,
      serialize: () => 42 as never,
    })
    expect(() => odd.send('x')).toThrow(expect.objectContaining({ code: 'SSE_INVALID_DATA' }))
    const failing = createSession(sink, {
      retry: false,
      heartbeat: false,
      serialize: () => {
        throw new RangeError('nope')
      },
    })
    let caught: unknown
    try {
      failing.send('x')
    } catch (error) {
      caught = error
    }
    expect(caught).toMatchObject({ code: 'SSE_INVALID_DATA', cause: expect.any(RangeError) })
    expect(sink.chunks).toHaveLength(0)
  })

  test('after the client left, send and comment report false and never write or throw', () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    sink.disconnect()
    expect(session.closed).toBe(true)
    expect(sink.closed).toBe(true)
    expect(session.send('late')).toBe(false)
    expect(session.comment('late')).toBe(false)
    expect(sink.chunks).toHaveLength(0)
  })

  test('close is idempotent and aborts the session signal', () => {
    const sink = memorySink()
    const session = createSession(sink, { heartbeat: false })
    let aborts = 0
    session.signal.addEventListener('abort', () => aborts++)
    session.close()
    session.close()
    expect(aborts).toBe(1)
    expect(sink.closed).toBe(true)
    expect(session.send('x')).toBe(false)
  })

  test('a transport that throws closes the session instead of crashing the caller', () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    sink.write = () => {
      throw new Error('EPIPE')
    }
    expect(session.send('x')).toBe(false)
    expect(session.closed).toBe(true)
  })

  test('comments with line breaks become several comment lines', () => {
    const sink = memorySink()
    createSession(sink, { retry: false, heartbeat: false }).comment('a\nb')
    expect(sink.text()).toBe(': a\n: b\n')
  })
})

/** A route of sessions with heartbeat `interval` over memory sinks: `open()` opens one more. */
function route(interval: number) {
  const sinks: MemorySink[] = []
  const binding: StreamBinding<null, undefined> = {
    lastEventId: () => undefined,
    url: () => undefined,
    refuse: () => undefined,
    open: () => {
      const sink = memorySink()
      sinks.push(sink)
      return { sink, result: undefined }
    },
    reportError(error) {
      throw error
    },
  }
  const sessions: Session[] = []
  const open = createStreamHandler(binding, (session) => void sessions.push(session), {
    retry: false,
    heartbeat: interval,
  })
  return { sinks, sessions, open: () => open(null) }
}

describe('heartbeat', () => {
  test('a comment is written after 15 s of silence by default', () => {
    vi.useFakeTimers()
    const sink = memorySink()
    createSession(sink, { retry: false })
    vi.advanceTimersByTime(14_999)
    expect(sink.text()).toBe('')
    vi.advanceTimersByTime(1)
    expect(sink.text()).toBe(':\n')
    vi.advanceTimersByTime(15_000)
    expect(sink.text()).toBe(':\n:\n')
  })

  test('a write puts off the next comment', () => {
    vi.useFakeTimers()
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: 1000 })
    vi.advanceTimersByTime(900)
    session.send('a')
    vi.advanceTimersByTime(900)
    expect(sink.text()).toBe('data: a\n\n')
    vi.advanceTimersByTime(100)
    expect(sink.text()).toBe('data: a\n\n:\n')
  })

  test('the stream is never silent for longer than the interval, however writes are spaced', () => {
    vi.useFakeTimers()
    const sink = memorySink()
    const writtenAt: number[] = []
    const write = sink.write
    sink.write = (chunk) => {
      writtenAt.push(Date.now())
      return write(chunk)
    }
    const session = createSession(sink, { retry: false, heartbeat: 1000 })
    const start = Date.now()
    // Bursts and pauses of every length around the interval (a fixed LCG, so
    // a failure replays): gaps of 1 ms to 2.5 s.
    let seed = 7
    for (let i = 0; i < 400; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      vi.advanceTimersByTime(1 + (seed % 2500))
      session.send(i)
    }
    vi.advanceTimersByTime(5000)
    const times = [start, ...writtenAt]
    let longest = 0
    for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i]! - times[i - 1]!)
    expect(longest).toBeLessThanOrEqual(1000)
    expect(sink.text()).toContain(':\n')
    session.close()
  })

  test('a stream written more often than the interval gets no heartbeat', () => {
    vi.useFakeTimers()
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: 1000 })
    for (let i = 0; i < 100; i++) {
      vi.advanceTimersByTime(999)
      session.send(i)
    }
    expect(sink.events()).toHaveLength(100)
    expect(sink.text()).not.toContain(':\n')
    session.close()
  })

  test("a route's sessions share one heartbeat timer, and each is checked when its own interval is due", () => {
    vi.useFakeTimers()
    const { sinks, sessions, open } = route(1000)
    open()
    vi.advanceTimersByTime(300)
    open()
    vi.advanceTimersByTime(300)
    open()
    // t = 600: due at 1000, 1300 and 1600, on one timer.
    expect(vi.getTimerCount()).toBe(1)
    sessions[1]!.send('x')
    const texts = () => sinks.map((sink) => sink.text())
    vi.advanceTimersByTime(399)
    expect(texts()).toEqual(['', 'data: x\n\n', ''])
    vi.advanceTimersByTime(1)
    expect(texts()).toEqual([':\n', 'data: x\n\n', ''])
    // 1300: the second wrote at 600, so its next check is at 1600, no comment.
    vi.advanceTimersByTime(300)
    expect(texts()).toEqual([':\n', 'data: x\n\n', ''])
    vi.advanceTimersByTime(299)
    expect(texts()).toEqual([':\n', 'data: x\n\n', ''])
    vi.advanceTimersByTime(1)
    expect(texts()).toEqual([':\n', 'data: x\n\n:\n', ':\n'])
    // 2000: the first again, a full interval after its comment.
    vi.advanceTimersByTime(400)
    expect(texts()).toEqual([':\n:\n', 'data: x\n\n:\n', ':\n'])
    sessions[0]!.close()
    sessions[2]!.close()
    expect(vi.getTimerCount()).toBe(1)
    sessions[1]!.close()
    expect(vi.getTimerCount()).toBe(0)
  })

  test("no stream of a route is silent for longer than the interval, however its streams' writes are spaced", () => {
    vi.useFakeTimers()
    const { sinks, sessions, open } = route(1000)
    const writtenAt: number[][] = []
    const opened: number[] = []
    // Streams open and close over the run, each writes at its own pace (a
    // fixed LCG, so a failure replays): the queue's heap reorders all along.
    let seed = 11
    const next = (bound: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      return seed % bound
    }
    for (let step = 0; step < 3000; step++) {
      if (sessions.length < 40 && next(10) === 0) {
        open()
        const times: number[] = []
        writtenAt.push(times)
        opened.push(Date.now())
        const sink = sinks.at(-1)!
        const write = sink.write
        sink.write = (chunk) => {
          times.push(Date.now())
          return write(chunk)
        }
      }
      const k = next(sessions.length)
      if (next(50) === 0) sessions[k]!.close()
      else sessions[k]!.send(step)
      vi.advanceTimersByTime(1 + next(60))
    }
    vi.advanceTimersByTime(3000)
    let comments = 0
    sessions.forEach((session, k) => {
      const times = [opened[k]!, ...writtenAt[k]!]
      if (session.closed) return
      for (let i = 1; i < times.length; i++) {
        expect(times[i]! - times[i - 1]!).toBeLessThanOrEqual(1000)
      }
      comments += sinks[k]!.text().split(':\n').length - 1
    })
    expect(comments).toBeGreaterThan(0)
    for (const session of sessions) session.close()
    expect(vi.getTimerCount()).toBe(0)
  })

  test('heartbeat: false schedules no timer at all', () => {
    vi.useFakeTimers()
    createSession(memorySink(), { heartbeat: false })
    expect(vi.getTimerCount()).toBe(0)
  })

  test('closing clears the timer, whoever closes', () => {
    vi.useFakeTimers()
    const byServer = createSession(memorySink())
    const clientSink = memorySink()
    createSession(clientSink)
    expect(vi.getTimerCount()).toBe(2)
    byServer.close()
    clientSink.disconnect()
    expect(vi.getTimerCount()).toBe(0)
  })

  test('an invalid interval is a TypeError', () => {
    expect(() => createSession(memorySink(), { heartbeat: 0 })).toThrow(TypeError)
  })
})

describe('backpressure', () => {
  const frame = (n: number) => `data: ${n}\n\n`

  test('frames queue while the transport is full and flush in order on drain', () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    sink.full = true
    session.send('0') // accepted by the transport, which now reports full
    session.send('1')
    session.send('2')
    expect(sink.text()).toBe(frame(0))
    expect(session.queuedBytes).toBe(frame(1).length + frame(2).length)
    sink.full = false
    sink.drain()
    expect(sink.text()).toBe(frame(0) + frame(1) + frame(2))
    expect(session.queuedBytes).toBe(0)
  })

  test('a drain that fills the transport again keeps the rest queued', () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    sink.full = true
    for (let i = 0; i < 4; i++) session.send(String(i))
    sink.drain() // still full: writes one frame, then waits again
    expect(sink.text()).toBe(frame(0) + frame(1))
    sink.full = false
    sink.drain()
    expect(sink.text()).toBe(frame(0) + frame(1) + frame(2) + frame(3))
  })

  test('default policy closes a client past maxQueueBytes and reports it', () => {
    const sink = memorySink()
    const slow: unknown[] = []
    const session = createSession(sink, {
      retry: false,
      heartbeat: false,
      maxQueueBytes: 100,
      onSlowClient: (_s, info) => slow.push(info),
    })
    sink.full = true
    let sent = 0
    while (session.send('x'.repeat(10))) sent++
    // 1 frame reached the transport, then 100 / 18 = 5 fit in the queue.
    expect(sent).toBe(6)
    expect(session.closed).toBe(true)
    expect(sink.closed).toBe(true)
    expect(session.queuedBytes).toBe(0)
    expect(slow).toEqual([{ queuedBytes: 90, policy: 'close', dropped: 0 }])
  })

  test('drop-oldest keeps the newest frames within the bound', () => {
    const sink = memorySink()
    const session = createSession(sink, {
      retry: false,
      heartbeat: false,
      maxQueueBytes: 30,
      slowClient: 'drop-oldest',
    })
    sink.full = true
    for (let i = 0; i < 100; i++) {
      expect(session.send(String(i).padStart(2, '0'))).toBe(true)
      expect(session.queuedBytes).toBeLessThanOrEqual(30)
    }
    sink.full = false
    sink.drain()
    // 'data: 00\n\n' is 10 bytes: the first went out, 3 newest fit the bound.
    expect(sink.events().map((e) => e.data)).toEqual(['00', '97', '98', '99'])
    expect(session.closed).toBe(false)
  })

  test('memory stays bounded when a client never reads', () => {
    const sink = memorySink()
    const session = createSession(sink, {
      retry: false,
      heartbeat: false,
      slowClient: 'drop-oldest',
      maxQueueBytes: 64 * 1024,
    })
    sink.full = true
    const payload = 'y'.repeat(1000)
    for (let i = 0; i < 10_000; i++) session.send(payload)
    expect(session.queuedBytes).toBeLessThanOrEqual(64 * 1024)
    expect(session.queuedBytes).toBeGreaterThan(60 * 1024)
  })
})

describe('pipe', () => {
  async function* tokens(n: number, finished: { value: boolean }) {
    try {
      for (let i = 0; i < n; i++) {
        await new Promise((r) => setTimeout(r, 1))
        yield `t${i}`
      }
    } finally {
      finished.value = true
    }
  }

  test('sends every item of an async iterable and resolves true', async () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    const finished = { value: false }
    await expect(session.pipe(tokens(5, finished), { event: 'token' })).resolves.toBe(true)
    expect(sink.events().map((e) => `${e.type}:${e.data}`)).toEqual([
      'token:t0',
      'token:t1',
      'token:t2',
      'token:t3',
      'token:t4',
    ])
    expect(session.closed).toBe(false)
  })

  test('close: true ends the session when the source ends', async () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    await session.pipe(tokens(2, { value: false }), { close: true })
    expect(session.closed).toBe(true)
  })

  test('pipes a ReadableStream', async () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    const stream = new ReadableStream({
      start(c) {
        c.enqueue({ n: 1 })
        c.enqueue({ n: 2 })
        c.close()
      },
    })
    await expect(session.pipe(stream)).resolves.toBe(true)
    expect(sink.events().map((e) => e.data)).toEqual(['{"n":1}', '{"n":2}'])
  })

  test('when the client leaves, pipe resolves false and the source is closed', async () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    const finished = { value: false }
    const piping = session.pipe(tokens(1000, finished))
    await new Promise((r) => setTimeout(r, 10))
    sink.disconnect()
    await expect(piping).resolves.toBe(false)
    await new Promise((r) => setTimeout(r, 5))
    expect(finished.value).toBe(true)
    expect(sink.events().length).toBeLessThan(1000)
  })

  test('a source stuck forever does not keep a gone client pending', async () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    const stuck: AsyncIterable<string> = {
      [Symbol.asyncIterator]: () => ({
        // A promise that never settles: the source never yields again.
        next: () => new Promise<IteratorResult<string>>(() => undefined),
      }),
    }
    const piping = session.pipe(stuck)
    sink.disconnect()
    await expect(piping).resolves.toBe(false)
  })

  test('a full transport pauses the source instead of queueing', async () => {
    const sink = memorySink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    let pulled = 0
    async function* counting() {
      while (true) {
        pulled++
        yield 'x'
      }
    }
    sink.full = true
    const piping = session.pipe(counting())
    await new Promise((r) => setTimeout(r, 20))
    expect(pulled).toBe(1)
    expect(session.queuedBytes).toBe(0)
    session.close()
    await expect(piping).resolves.toBe(false)
  })
})

describe('sinks that report disconnects with onClientGone instead of a signal', () => {
  function callbackSink() {
    const base = memorySink()
    let gone: (() => void) | undefined
    const { signal: _unused, ...rest } = base
    return {
      base,
      sink: {
        write: rest.write,
        onDrain: rest.onDrain,
        close: rest.close,
        onClientGone(listener: () => void) {
          gone = listener
        },
      },
      leave: () => gone?.(),
    }
  }

  test('the client leaving closes the session and later sends report false', () => {
    const { base, sink, leave } = callbackSink()
    const session = createSession(sink, { retry: false, heartbeat: false })
    expect(session.send('a')).toBe(true)
    leave()
    expect(session.closed).toBe(true)
    expect(base.closed).toBe(true)
    expect(session.send('b')).toBe(false)
    expect(base.events().map((e) => e.data)).toEqual(['a'])
  })

  test('a client already gone when the session opens: closed at once, nothing written', () => {
    const base = memorySink()
    const session = createSession(
      {
        write: base.write,
        onDrain: base.onDrain,
        close: base.close,
        onClientGone: (listener) => listener(),
      },
      { heartbeat: false },
    )
    expect(session.closed).toBe(true)
    expect(base.chunks).toEqual([])
  })

  test('a sink with neither signal nor onClientGone is a TypeError', () => {
    const base = memorySink()
    expect(() =>
      createSession({ write: base.write, onDrain: base.onDrain, close: base.close }),
    ).toThrow(TypeError)
  })
})
