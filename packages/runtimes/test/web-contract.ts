import { setTimeout as sleep } from 'node:timers/promises'
import { fetchEvents, until } from '@sse/test-utils'
import { SCRIPT_EVENTS } from '@sse/test-utils/contract-script'
import { EventSource } from 'eventsource'
import { describe, expect, test } from 'vitest'
import { CORS_ORIGIN, MIDDLEWARE_HEADER } from '../src/contract-app'

/** Counts the contract app keeps, read over HTTP (the app runs in another runtime). */
interface Stats {
  sessions: number
  errors: number
  limited: number
  limitedRuns: number
}

/**
 * The adapter contract for a Web binding served by another runtime at
 * `base()` (`http://127.0.0.1:N/core` or `/hono`): real clients over
 * 127.0.0.1, and the app's control routes for what only the server knows.
 */
export function runWebContract(name: string, base: () => string): void {
  const stats = async (): Promise<Stats> =>
    (await fetch(`${base()}/stats`)).json() as Promise<Stats>

  describe(`${name}: Web contract`, () => {
    test('status and headers; headers of the route or middleware kept', async () => {
      const controller = new AbortController()
      const response = await fetch(`${base()}/script`, {
        headers: { origin: CORS_ORIGIN },
        signal: controller.signal,
      })
      controller.abort()
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
      expect(response.headers.get('cache-control')).toBe('no-cache, no-transform')
      expect(response.headers.get('x-accel-buffering')).toBe('no')
      expect(response.headers.get(MIDDLEWARE_HEADER)).toBe('kept')
      expect(response.headers.get('access-control-allow-origin')).toBe(CORS_ORIGIN)
    })

    test('fetch sees the retry hint first, then the events with spec lastEventId', async () => {
      const capture = await fetchEvents(`${base()}/script`, { until: (c) => c.events.length >= 5 })
      expect(capture.retries).toEqual([1234])
      expect(capture.events).toEqual(SCRIPT_EVENTS)
    })

    test('the eventsource client receives them in order', async () => {
      const source = new EventSource(`${base()}/script`)
      const seen: string[] = []
      await new Promise<void>((resolve, reject) => {
        const push = (event: MessageEvent) => {
          seen.push(`${event.type}:${event.data}`)
          if (seen.length === 5) resolve()
        }
        for (const type of ['message', 'named', 'empty']) source.addEventListener(type, push)
        source.addEventListener('error', () => reject(new Error('EventSource error')))
      }).finally(() => source.close())
      expect(seen).toEqual([
        'message:first',
        'named:{"n":2}',
        'message:line1\nline2\nline3\nline4',
        'empty:',
        'message:after empty',
      ])
    })

    test('heartbeat comments arrive on a quiet stream', async () => {
      const capture = await fetchEvents(`${base()}/heartbeat`, {
        until: (c) => c.comments.length >= 3,
      })
      expect(capture.events).toEqual([])
      expect(capture.comments).toEqual(['', '', ''])
    })

    test("a non-ASCII Last-Event-ID, sent as the id's UTF-8 bytes, reaches the session decoded", async () => {
      const id = 'caf\u00e9 \u2026 \u{1f600}'
      const capture = await fetchEvents(`${base()}/echo-id`, {
        headers: { 'last-event-id': Buffer.from(id, 'utf8').toString('latin1') },
      })
      expect(capture.events.map((e) => e.data)).toEqual([id])
    })

    test('the client leaving closes its session (the runtime reports the disconnect)', async () => {
      const controller = new AbortController()
      const response = await fetch(`${base()}/replay`, { signal: controller.signal })
      expect(response.status).toBe(200)
      await until(async () => (await stats()).sessions === 1, 'the session', 5000)
      controller.abort()
      await until(async () => (await stats()).sessions === 0, 'the session closed', 10_000)
    })

    test('Last-Event-ID: the server drops the stream, the client reconnects and misses nothing', async () => {
      const total = 30
      const source = new EventSource(`${base()}/replay`)
      const received: string[] = []
      let opens = 0
      source.addEventListener('open', () => opens++)
      source.addEventListener('message', (event) => received.push(event.data))
      try {
        await until(async () => opens === 1 && (await stats()).sessions === 1, 'one open client')
        for (let i = 0; i < total; i++) {
          const topic = ['replay/a', 'replay/b', 'replay/c/7'][i % 3]!
          const publish = (t: string, data: string) =>
            fetch(`${base()}/publish?topic=${encodeURIComponent(t)}&data=${data}`, {
              method: 'POST',
            })
          await publish('replay/other', 'not-subscribed')
          await publish(topic, String(i))
          if (i % 7 === 6) await fetch(`${base()}/drop`, { method: 'POST' })
          await sleep(5)
        }
        await until(() => received.length >= total, `${total} events`, 15_000)
        // Wait for the stream to be live again, then for anything extra to show.
        await until(async () => (await stats()).sessions === 1, 'the client back', 5000)
        await fetch(`${base()}/publish?topic=replay/a&data=end`, { method: 'POST' })
        await until(() => received.at(-1) === 'end', 'the last event')
      } finally {
        source.close()
      }
      expect(received).toEqual([...Array.from({ length: total }, (_, i) => String(i)), 'end'])
      expect(opens).toBeGreaterThanOrEqual(5)
    }, 30_000)

    test('a handler that throws or rejects ends the stream and reaches onError', async () => {
      const before = (await stats()).errors
      for (const path of ['/throw', '/reject']) {
        const capture = await fetchEvents(`${base()}${path}`)
        expect(capture.status, path).toBe(200)
        expect(
          capture.events.map((e) => e.data),
          path,
        ).toEqual(['before'])
      }
      await until(async () => (await stats()).errors === before + 2, 'two errors reported')
    })

    test('over the limit: 429 with Retry-After, and no handler runs', async () => {
      const held = new AbortController()
      const first = await fetchEvents(`${base()}/limited`, {
        until: (c) => c.events.length === 1,
      }).catch(() => undefined)
      expect(first?.events.map((e) => e.data)).toEqual(['in'])
      // fetchEvents aborted its stream: the slot comes back.
      await until(async () => (await stats()).limited === 0, 'the slot freed', 10_000)
      const holder = await fetch(`${base()}/limited`, { signal: held.signal })
      expect(holder.status).toBe(200)
      await until(async () => (await stats()).limited === 1, 'the slot taken')
      const runs = (await stats()).limitedRuns
      const refused = await fetch(`${base()}/limited`)
      expect(refused.status).toBe(429)
      expect((await stats()).limitedRuns).toBe(runs)
      expect(refused.headers.get('retry-after')).toBe('4')
      await refused.body?.cancel()
      held.abort()
      await until(async () => (await stats()).limited === 0, 'the slot freed again', 10_000)
    })
  })
}
