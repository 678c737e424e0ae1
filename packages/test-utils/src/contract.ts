import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import {
  createConnectionLimiter,
  createHub,
  createMemoryEngine,
  type ParsedEvent,
  type Session,
  type StreamHandler,
  type StreamOptions,
} from '@sse/core'
import { EventSource } from 'eventsource'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fetchEvents, http2Events, httpHead, type StreamCapture, tls } from './clients'
import { SCRIPT_EVENTS, sendScript } from './contract-script'
import { settle, trackTimers } from './timers'

/**
 * One route the adapter under test must serve with its own
 * `sse(handler, options)`, passing both as they are.
 */
export interface ContractRoute {
  path: string
  options: StreamOptions<unknown>
  handler: StreamHandler<unknown>
}

/** What reached a route's `onError`. */
interface Failure {
  error: unknown
  session: Session
  context: unknown
}

export interface StartOptions {
  /** Put the framework's usual compression middleware in front of the routes. */
  compression: boolean
  /** Serve HTTP/2: `h2c` (cleartext) or `h2` (TLS with `tls` from this package). */
  http2?: 'h2c' | 'h2'
}

export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:41234` (https for `h2`). */
  url: string
  close(): Promise<void>
}

/**
 * An adapter's side of the contract. `start` serves `routes` with the
 * framework on 127.0.0.1:0 and, in middleware that runs BEFORE the route,
 * sets `x-contract-middleware: kept` and answers CORS for `CORS_ORIGIN`
 * (with the framework's CORS middleware where it has one).
 */
export interface AdapterUnderTest {
  name: string
  start(routes: ContractRoute[], options: StartOptions): Promise<RunningServer>
  /** HTTP/2 modes the adapter supports; the HTTP/2 tests run for these. */
  http2?: Array<'h2c' | 'h2'>
  /**
   * Options its README tells HTTP/2 users to set for bursts (the burst test
   * runs with them), when the defaults are not enough. None: the defaults.
   */
  http2BurstOptions?: StreamOptions<unknown>
}

export const CORS_ORIGIN = 'https://client.example'
export const MIDDLEWARE_HEADER = 'x-contract-middleware'

const SLOW_QUEUE_BOUND = 64 * 1024

/** Defines the whole contract suite for one adapter. Call it at a test file's top level. */
export function runAdapterContract(adapter: AdapterUnderTest): void {
  const replayHub = createHub({ engine: createMemoryEngine({ maxEvents: 10_000 }) })
  const churnHub = createHub()
  const fireHub = createHub()
  const burstHub = createHub()
  const burstSessions: Session[] = []
  const open = new Set<Session>()
  const fireSessions: Session[] = []
  let slowClientReports = 0

  const failures = new Map<string, Failure[]>()
  const limiter = createConnectionLimiter({ max: 1, retryAfter: 4 })
  let limitedRuns = 0
  // The /paced stream's second event: sent by the test once the client has
  // the first, or by a timer.
  const paced: { next: (() => void) | undefined; twoSentBy: 'client' | 'timer' | undefined } = {
    next: undefined,
    twoSentBy: undefined,
  }

  const track = (session: Session): void => {
    open.add(session)
    session.signal.addEventListener('abort', () => open.delete(session), { once: true })
  }
  const route = (
    path: string,
    options: StreamOptions<unknown>,
    handler: StreamHandler<unknown>,
  ): ContractRoute => ({
    path,
    options,
    handler: (session, context) => {
      track(session)
      return handler(session, context)
    },
  })
  // A route whose handler fails after sending one event; onError records.
  const failing = (path: string, handler: StreamHandler<unknown>): ContractRoute => {
    failures.set(path, [])
    const onError = (error: unknown, session: Session, context: unknown): void => {
      failures.get(path)!.push({ error, session, context })
    }
    return route(path, { heartbeat: false, onError }, handler)
  }

  /**
   * With a stalled client already on /firehose, opens a fast one and
   * publishes 12,000 events of 1 kB (20 a turn): the stalled one is closed
   * as slow (one report) without its queue passing the bound; the fast one
   * gets every event, in order.
   */
  const fireAtSlowAndFast = async (
    openFast: (total: number) => Promise<StreamCapture>,
    dropSlow: () => void,
  ): Promise<void> => {
    fireSessions.length = 0
    slowClientReports = 0
    const total = 12_000
    const payload = 'x'.repeat(1000)
    const fast = openFast(total)
    await settle(() => fireHub.size === 2)
    let maxQueued = 0
    for (let i = 0; i < total; i++) {
      await fireHub.publish('fire', `${i}:${payload}`)
      for (const session of fireSessions) maxQueued = Math.max(maxQueued, session.queuedBytes)
      if (i % 20 === 0) await nextTurn()
    }
    const capture = await fast
    dropSlow()
    expect(maxQueued).toBeLessThanOrEqual(SLOW_QUEUE_BOUND)
    // Exactly one client was too slow, and the default policy closed it.
    expect(slowClientReports).toBe(1)
    expect(fireSessions.filter((s) => s.closeReason === 'slow-client')).toHaveLength(1)
    expect(capture.events.map((e) => Number(e.data.split(':')[0]))).toEqual(
      Array.from({ length: total }, (_, i) => i),
    )
  }

  const routes: ContractRoute[] = [
    route('/script', { retry: 1234, heartbeat: false }, sendScript),
    route('/heartbeat', { heartbeat: 40, retry: false }, () => undefined),
    route('/echo-id', { heartbeat: false, retry: false }, (session) => {
      session.send(session.lastEventId ?? '(none)')
      session.close()
    }),
    route(
      '/replay',
      { retry: 20, heartbeat: false },
      (session) =>
        // Three topics (one a pattern) over one connection, one Last-Event-ID.
        replayHub.subscribe(session, ['replay/a', 'replay/b', 'replay/c/*']).ready,
    ),
    route('/churn', {}, async (session) => {
      await churnHub.subscribe(session, 'churn').ready
      session.send('hello')
    }),
    route(
      '/firehose',
      {
        heartbeat: false,
        ...adapter.http2BurstOptions,
        maxQueueBytes: SLOW_QUEUE_BOUND,
        onSlowClient: () => {
          slowClientReports++
        },
      },
      (session) => {
        fireSessions.push(session)
        return fireHub.subscribe(session, 'fire').ready
      },
    ),
    // The default bound (1 MiB): a client that keeps up must never reach it.
    route('/burst', { heartbeat: false, ...adapter.http2BurstOptions }, (session) => {
      burstSessions.push(session)
      return burstHub.subscribe(session, 'burst').ready
    }),
    failing('/throw', (session) => {
      session.send('before')
      throw new Error('sync failure')
    }),
    failing('/reject', async (session) => {
      session.send('before')
      await nextTurn()
      throw new Error('async failure')
    }),
    failing('/bad-data', (session) => {
      session.send('before')
      // A BigInt has no JSON form: the default serializer throws a TypeError.
      session.send(10n)
    }),
    route('/limited', { heartbeat: false, limit: { limiter } }, (session) => {
      limitedRuns++
      session.send('in')
    }),
    route('/paced', { heartbeat: false }, (session) => {
      session.send('one')
      // 'two' once the client has 'one' (the test calls `paced.next`), or
      // after 5 s: a compressor that buffers delivers nothing before then.
      const sendTwo = (by: 'client' | 'timer') => {
        clearTimeout(timer)
        paced.next = undefined
        paced.twoSentBy = by
        session.send('two')
      }
      const timer = setTimeout(() => sendTwo('timer'), 5000)
      paced.next = () => sendTwo('client')
      session.signal.addEventListener('abort', () => clearTimeout(timer), { once: true })
    }),
  ]

  describe(`${adapter.name}: adapter contract`, () => {
    let server: RunningServer
    let compressed: RunningServer
    beforeAll(async () => {
      server = await adapter.start(routes, { compression: false })
      compressed = await adapter.start(routes, { compression: true })
    })
    afterAll(async () => {
      for (const session of open) session.close()
      await server?.close()
      await compressed?.close()
    })

    test('status and headers, framework middleware headers kept', async () => {
      const { status, headers } = await httpHead(`${server.url}/script`, { origin: CORS_ORIGIN })
      expect(status).toBe(200)
      expect(headers['content-type']).toBe('text/event-stream; charset=utf-8')
      expect(headers['cache-control']).toBe('no-cache, no-transform')
      expect(headers['x-accel-buffering']).toBe('no')
      expect(headers.connection).toBe('keep-alive')
      expect(headers[MIDDLEWARE_HEADER]).toBe('kept')
      expect(headers['access-control-allow-origin']).toBe(CORS_ORIGIN)
    })

    test('the eventsource client receives events in order: multi-line, named, ids, empty data', async () => {
      const source = new EventSource(`${server.url}/script`)
      const seen: Array<{ type: string; data: string; lastEventId: string }> = []
      const done = new Promise<void>((resolve, reject) => {
        const push = (event: MessageEvent) => {
          seen.push({ type: event.type, data: event.data, lastEventId: event.lastEventId })
          if (seen.length === 5) resolve()
        }
        source.addEventListener('message', push)
        source.addEventListener('named', push)
        source.addEventListener('empty', push)
        source.addEventListener('error', () => reject(new Error('EventSource error')))
      })
      await done
      source.close()
      // eventsource@4 sets lastEventId to the event's own id or '' (the spec
      // keeps the last one); the fetch test below checks the spec semantics.
      expect(seen).toEqual([
        { type: 'message', data: 'first', lastEventId: '' },
        { type: 'named', data: '{"n":2}', lastEventId: '2' },
        { type: 'message', data: 'line1\nline2\nline3\nline4', lastEventId: '3' },
        { type: 'empty', data: '', lastEventId: '' },
        { type: 'message', data: 'after empty', lastEventId: '' },
      ])
    })

    test('fetch sees the retry hint first, then the same events with spec lastEventId', async () => {
      const capture = await fetchEvents(`${server.url}/script`, {
        until: (c) => c.events.length >= 5,
      })
      expect(capture.retries).toEqual([1234])
      expect(capture.events).toEqual(SCRIPT_EVENTS)
    })

    test('heartbeat comments arrive on a quiet stream', async () => {
      const capture = await fetchEvents(`${server.url}/heartbeat`, {
        until: (c) => c.comments.length >= 3,
      })
      expect(capture.events).toEqual([])
      expect(capture.comments).toEqual(['', '', ''])
    })

    test("a route's streams keep their heartbeat while others on it come and go", async () => {
      // One timer checks every stream of a route: a stream leaving must not
      // stop the checks of the others.
      const staying = fetchEvents(`${server.url}/heartbeat`, {
        until: (c) => c.comments.length >= 4,
      })
      const leaving = await fetchEvents(`${server.url}/heartbeat`, {
        until: (c) => c.comments.length >= 2,
      })
      expect(leaving.comments).toEqual(['', ''])
      expect((await staying).comments).toEqual(['', '', '', ''])
    })

    test("a non-ASCII Last-Event-ID, sent as the id's UTF-8 bytes like browsers do, reaches the session decoded", async () => {
      const id = 'caf\u00e9 \u2026 \u{1f600}'
      const capture = await fetchEvents(`${server.url}/echo-id`, {
        // One char per byte: how a ByteString header carries UTF-8 on the wire.
        headers: { 'last-event-id': Buffer.from(id, 'utf8').toString('latin1') },
      })
      expect(capture.events.map((e) => e.data)).toEqual([id])
    })

    test('Last-Event-ID: the server drops the stream, the client reconnects and misses nothing on any of its topics', async () => {
      const total = 40
      const source = new EventSource(`${server.url}/replay`)
      const received: string[] = []
      let opens = 0
      source.addEventListener('open', () => opens++)
      source.addEventListener('message', (event) => received.push(event.data))
      await settle(() => opens === 1 && replayHub.size === 1)
      let published = 0
      const publisher = setInterval(() => {
        if (published >= total) return
        const topic = ['replay/a', 'replay/b', 'replay/c/7'][published % 3]!
        // Never for this client: another topic, in between.
        void replayHub.publish('replay/other', 'not subscribed')
        void replayHub.publish(topic, String(published++))
        // Drop every connection after every 7th event, mid-stream.
        if (published % 7 === 0)
          for (const { session } of replayHub.subscriptions()) session.close()
      }, 8)
      try {
        await settle(() => received.length >= total, 15_000)
        await sleep(50) // anything extra (a duplicate) would arrive now
      } finally {
        clearInterval(publisher)
        source.close()
      }
      expect(received).toEqual(Array.from({ length: total }, (_, i) => String(i)))
      expect(opens).toBeGreaterThanOrEqual(6)
    }, 20_000)

    test('1,000 connect/disconnect cycles leave no session, timer, socket or listener', async () => {
      const resources = () => {
        const counts: Record<string, number> = {}
        for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1
        return counts
      }
      const processListeners = () =>
        process.eventNames().reduce((sum, name) => sum + process.listenerCount(name), 0)
      await settle(() => churnHub.size === 0 && open.size === 0)
      const before = { resources: resources(), listeners: processListeners() }
      const timers = trackTimers()

      for (let i = 0; i < 1000; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = http.get(`${server.url}/churn`, { agent: false }, (res) => {
            res.once('data', () => {
              req.destroy()
              resolve()
            })
          })
          req.on('error', reject)
        })
      }
      await settle(() => churnHub.size === 0 && open.size === 0 && timers.live === 0)
      timers.stop()
      expect(churnHub.size).toBe(0)
      expect(open.size).toBe(0)
      expect(timers.live).toBe(0)
      // Earlier tests' sockets may still be closing, so the baseline can only
      // shrink; a leak of 1,000 cycles shows up as growth in some kind.
      const grew = () =>
        Object.entries(resources()).filter(([kind, n]) => n > (before.resources[kind] ?? 0))
      await settle(() => grew().length === 0)
      expect(grew()).toEqual([])
      expect(processListeners()).toBeLessThanOrEqual(before.listeners)
    }, 60_000)

    test('a client that stops reading stays within the queue bound; the others get every event', async () => {
      // A raw socket that sends the request and then never reads.
      const slow = net.connect(Number(new URL(server.url).port), '127.0.0.1')
      slow.write('GET /firehose HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
      slow.pause()
      await fireAtSlowAndFast(
        (total) =>
          fetchEvents(`${server.url}/firehose`, {
            until: (c) => c.events.length >= total,
            timeoutMs: 30_000,
          }),
        () => slow.destroy(),
      )
    }, 60_000)

    for (const [path, message] of [
      ['/throw', 'sync failure'],
      ['/reject', 'async failure'],
      ['/bad-data', 'SSE_INVALID_DATA'],
    ] as const) {
      test(`a handler failure (${path.slice(1)}) ends the stream and reaches onError with the session and context`, async () => {
        const capture = await fetchEvents(`${server.url}${path}`)
        // What was sent before the failure arrives; then the stream ends.
        expect(capture.status).toBe(200)
        expect(capture.events.map((e) => e.data)).toEqual(['before'])
        await settle(() => failures.get(path)!.length > 0)
        const seen = failures.get(path)!
        expect(seen).toHaveLength(1)
        const [{ error, session, context }] = seen as [Failure]
        const { message: text, code } = error as { message: string; code?: string }
        expect(code === message || text.includes(message)).toBe(true)
        expect(session.closeReason).toBe('error')
        expect(session.closeCause).toBe(error)
        expect(context).toBeTypeOf('object')
        seen.length = 0
      })
    }

    test('over the limit: 429 with Retry-After and the middleware headers, and no handler runs', async () => {
      limitedRuns = 0
      const held = new AbortController()
      const first = await fetch(`${server.url}/limited`, { signal: held.signal })
      expect(first.status).toBe(200)
      const refused = await httpHead(`${server.url}/limited`, { origin: CORS_ORIGIN })
      expect(refused.status).toBe(429)
      expect(refused.headers['retry-after']).toBe('4')
      expect(refused.headers[MIDDLEWARE_HEADER]).toBe('kept')
      expect(refused.headers['access-control-allow-origin']).toBe(CORS_ORIGIN)
      expect(refused.headers['content-type']).toMatch(/^text\/plain/)
      expect(limitedRuns).toBe(1)
      held.abort()
      await settle(() => limiter.size === 0)
      expect(limiter.size).toBe(0)
      const again = await fetchEvents(`${server.url}/limited`, {
        until: (c) => c.events.length === 1,
      })
      expect(again.status).toBe(200)
      expect(limitedRuns).toBe(2)
      await settle(() => limiter.size === 0)
    })

    test('behind compression middleware, events arrive one by one', async () => {
      paced.twoSentBy = undefined
      // 'two' is written only once the client has 'one': no timing involved
      // (a gap of 300 ms, measured, failed once on a loaded CI machine whose
      // test process stalled past it).
      const capture = await fetchEvents(`${compressed.url}/paced`, {
        headers: { 'accept-encoding': 'gzip, deflate, br' },
        until: (c) => {
          if (c.events.length === 1) paced.next?.()
          return c.events.length >= 2
        },
        timeoutMs: 10_000,
      })
      expect(capture.events.map((e: ParsedEvent) => e.data)).toEqual(['one', 'two'])
      expect(paced.twoSentBy).toBe('client')
    })

    for (const mode of adapter.http2 ?? []) {
      describe(`HTTP/2 (${mode})`, () => {
        let h2: RunningServer
        beforeAll(async () => {
          h2 = await adapter.start(routes, { compression: false, http2: mode })
        })
        afterAll(async () => {
          for (const session of open) session.close()
          await h2?.close()
        })

        test('events, ids and retry arrive without connection-specific headers', async () => {
          const capture = await http2Events(`${h2.url}/script`, 5)
          expect(capture.status).toBe(200)
          expect(capture.headers['content-type']).toBe('text/event-stream; charset=utf-8')
          expect(capture.headers.connection).toBeUndefined()
          expect(capture.headers['transfer-encoding']).toBeUndefined()
          expect(capture.headers[MIDDLEWARE_HEADER]).toBe('kept')
          expect(capture.retries).toEqual([1234])
          expect(capture.events.map((e) => [e.type, e.data, e.lastEventId])).toEqual([
            ['message', 'first', ''],
            ['named', '{"n":2}', '2'],
            ['message', 'line1\nline2\nline3\nline4', '3'],
            ['empty', '', '3'],
            ['message', 'after empty', '3'],
          ])
        })

        // Node's own http2 client, 64 kB windows. Before, a client reading as
        // fast as it can was closed as slow after ~5,900 of 12,000 events of
        // these bursts: a stream's write() says "full" past 16 kB, which only
        // drains on a later turn, and that was taken for a slow client.
        test('a client reading as fast as it can, sent bursts of 20 kB a turn, gets every event and is never closed', async () => {
          burstSessions.length = 0
          const total = 12_000
          const payload = 'x'.repeat(1000)
          const capture = http2Events(`${h2.url}/burst`, total, 30_000)
          await settle(() => burstHub.size === 1)
          let maxQueued = 0
          for (let i = 0; i < total; i++) {
            await burstHub.publish('burst', `${i}:${payload}`)
            maxQueued = Math.max(maxQueued, burstSessions[0]!.queuedBytes)
            if (i % 20 === 19) await nextTurn()
          }
          const { events } = await capture
          expect(burstSessions[0]!.closeReason).not.toBe('slow-client')
          expect(events.map((e) => Number(e.data.split(':')[0]))).toEqual(
            Array.from({ length: total }, (_, i) => i),
          )
          // HTTP/1.1 queues nothing here; HTTP/2 at most what one flow-control
          // round trip holds back, far under the bound.
          expect(maxQueued).toBeLessThan(256 * 1024)
        }, 60_000)

        test('a client that stops reading (its window exhausted) stays within the queue bound; another connection gets every event', async () => {
          // Its own connection: streams of one connection share its window.
          const stalled = http2.connect(h2.url, { ca: tls.cert })
          stalled.on('error', () => undefined)
          const slow = stalled.request({ ':path': '/firehose' })
          slow.on('error', () => undefined)
          slow.pause()
          await fireAtSlowAndFast(
            (total) => http2Events(`${h2.url}/firehose`, total, 30_000),
            () => stalled.destroy(),
          )
        }, 60_000)
      })
    }
  })
}
