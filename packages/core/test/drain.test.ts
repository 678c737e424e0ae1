// Relative import of @sse/test-utils: it depends on @sse/core (see readme.test.ts).
import { createDrainer, createHub, createSession, parseEventId, type Session, sse } from '@sse/core'
import { describe, expect, test } from 'vitest'
import { settle, trackTimers } from '../../test-utils/src/timers'
import { memorySink, parseAll } from './fixtures'

const url = 'http://localhost/events'

/** Reads a stream body to its end, noting when it ended. */
async function readToEnd(response: Response): Promise<{ text: string; endedAt: number }> {
  const text = await response.text()
  return { text, endedAt: Date.now() }
}

function retryOf(text: string): number[] {
  return [...text.matchAll(/^retry: ?(\d+)$/gm)].map((m) => Number(m[1]))
}

describe('createDrainer', () => {
  test('drain closes every open stream spread evenly over the window, each after a jittered retry hint', async () => {
    const timers = trackTimers()
    const drainer = createDrainer()
    const sessions: Session[] = []
    const handler = sse(
      (session) => {
        sessions.push(session)
        session.send('hello')
      },
      { drainer, retry: false, heartbeat: false },
    )
    const bodies = Array.from({ length: 20 }, () => readToEnd(handler(new Request(url))))
    expect(drainer.size).toBe(20)
    const started = Date.now()
    await drainer.drain({ window: 1000, retry: 1000 })
    const finished = Date.now()
    expect(drainer.size).toBe(0)
    expect(sessions.every((s) => s.closeReason === 'drain')).toBe(true)
    const ends = (await Promise.all(bodies)).map(({ text, endedAt }) => {
      expect(parseAll(text).map((e) => e.data)).toEqual(['hello'])
      const [retry] = retryOf(text)
      expect(retry).toBeGreaterThanOrEqual(500)
      expect(retry).toBeLessThanOrEqual(1500)
      return endedAt - started
    })
    // 20 closes over 1 s: one every 50 ms, the first at once, none after the window.
    expect(finished - started).toBeGreaterThanOrEqual(900)
    expect(Math.min(...ends)).toBeLessThan(400)
    ends.sort((a, b) => a - b)
    const halfway = ends.filter((t) => t < 500).length
    // 10 when timers are punctual; a loaded machine's late tick moves a few
    // across the mark, never all of them (at once would be 20).
    expect(halfway).toBeGreaterThanOrEqual(6)
    expect(halfway).toBeLessThanOrEqual(14)
    // Not one hint for all: they are jittered.
    const hints = new Set((await Promise.all(bodies)).map(({ text }) => retryOf(text)[0]))
    expect(hints.size).toBeGreaterThan(1)
    await settle(() => timers.live === 0)
    expect(timers.live).toBe(0)
    timers.stop()
  })

  test('while draining, a new stream gets a retry hint and ends; its handler never runs', async () => {
    const drainer = createDrainer()
    let handled = 0
    const handler = sse(() => void handled++, { drainer, heartbeat: false })
    await drainer.drain({ retry: 3000 })
    const response = handler(new Request(url))
    expect(response.status).toBe(200)
    const text = await response.text()
    // The route's own hint (2000, the default), then the drain's jittered one, which wins.
    const hints = retryOf(text)
    expect(hints[0]).toBe(2000)
    expect(hints.at(-1)).toBeGreaterThanOrEqual(1500)
    expect(hints.at(-1)).toBeLessThanOrEqual(4500)
    expect(parseAll(text)).toEqual([])
    expect(handled).toBe(0)
    expect(drainer.size).toBe(0)
  })

  test("newStreams: 'refuse' answers 503 with Retry-After while draining", async () => {
    const drainer = createDrainer({ newStreams: 'refuse', retryAfter: 7 })
    let handled = 0
    const handler = sse(() => void handled++, { drainer })
    await drainer.drain()
    const response = handler(new Request(url))
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('7')
    expect(await response.text()).toMatch(/shutting down/)
    expect(handled).toBe(0)
  })

  test('drain with nothing open resolves at once; a second call returns the same promise', async () => {
    const drainer = createDrainer()
    const first = drainer.drain({ window: 60_000 })
    expect(drainer.drain()).toBe(first)
    await first
    expect(drainer.draining).toBe(true)
  })

  test('a stream whose client left before its turn is skipped', async () => {
    const drainer = createDrainer()
    const controller = new AbortController()
    const handler = sse(() => undefined, { drainer, heartbeat: false })
    const gone = handler(new Request(url, { signal: controller.signal }))
    const stays = handler(new Request(url))
    expect(drainer.size).toBe(2)
    controller.abort()
    await gone.body?.cancel().catch(() => undefined)
    await settle(() => drainer.size === 1)
    expect(drainer.size).toBe(1)
    await drainer.drain({ window: 0 })
    expect(await stays.text()).toMatch(/^retry: \d+$/m)
  })

  test.each([
    [() => createDrainer({ newStreams: 'later' as never }), '`newStreams`'],
    [() => createDrainer({ retryAfter: -1 }), '`retryAfter`'],
    [() => createDrainer().drain({ window: -1 }), '`window`'],
    [() => createDrainer().drain({ retry: 1.5 }), '`retry`'],
    [() => sse(() => undefined, { drainer: {} as never }), '`drainer`'],
  ])('invalid options are a TypeError naming them (%#)', (call, name) => {
    expect(call).toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringContaining(name) }),
    )
  })
})

describe('hub.drain', () => {
  test('closes every subscribed session spread over the window; new subscriptions are closed at once; publishing goes on', async () => {
    const hub = createHub()
    const sinks = Array.from({ length: 10 }, () => memorySink())
    const sessions = sinks.map((sink) => createSession(sink, { heartbeat: false, retry: false }))
    await Promise.all(sessions.map((session) => hub.subscribe(session, 'news').ready))
    await hub.publish('news', 'before')
    const closedAt: number[] = []
    for (const session of sessions) {
      session.signal.addEventListener('abort', () => closedAt.push(Date.now()))
    }
    const started = Date.now()
    const done = hub.drain({ window: 500, retry: 200 })
    expect(hub.drain()).toBe(done)
    await hub.publish('news', 'during')
    const late = memorySink()
    const lateSession = createSession(late, { heartbeat: false, retry: false })
    hub.subscribe(lateSession, 'news')
    expect(lateSession.closeReason).toBe('drain')
    expect(retryOf(late.text())).toHaveLength(1)
    await done
    expect(hub.size).toBe(0)
    expect(sessions.every((s) => s.closeReason === 'drain')).toBe(true)
    expect(closedAt).toHaveLength(10)
    expect(Math.max(...closedAt) - started).toBeGreaterThanOrEqual(400)
    expect(Math.min(...closedAt) - started).toBeLessThan(100)
    // Each got what was published before its turn, and a hint: an id to resume from.
    for (const sink of sinks) {
      const events = sink.events()
      expect(events.map((e) => e.data)).toContain('before')
      expect(parseEventId(events.at(-1)!.lastEventId, 1, () => true)).toBeDefined()
      expect(retryOf(sink.text())).toHaveLength(1)
    }
    await hub.publish('news', 'after')
    hub.close()
  })
})
