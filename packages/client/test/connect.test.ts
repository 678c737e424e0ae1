import type { ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { createHub, type ParsedEvent, readLastEventId, type Session } from '@sse/core'
import { openSession } from '@sse/node-http'
import { afterEach, describe, expect, test, vi } from 'vitest'
import {
  CLOSED,
  CONNECTING,
  connect,
  type EventStream,
  OPEN,
  SseError,
  type StreamError,
} from '../src/index'
import { openStream, startServer, type TestServer, until } from './helpers'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  vi.restoreAllMocks()
})

async function serve(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const server = await startServer(...args)
  cleanups.push(() => server.close())
  return server
}

function open(
  url: Parameters<typeof connect>[0],
  options?: Parameters<typeof connect>[1],
): EventStream {
  const stream = connect(url, options)
  cleanups.push(() => stream.close())
  return stream
}

function record(stream: EventStream, ...types: string[]) {
  const events: ParsedEvent[] = []
  const errors: Array<{ error: StreamError; readyState: number }> = []
  for (const type of types) stream.addEventListener(type, (event) => events.push(event))
  stream.addEventListener('error', (error) => errors.push({ error, readyState: stream.readyState }))
  return { events, errors }
}

describe('requests', () => {
  test('POST with a body and custom headers reaches the server', async () => {
    const server = await serve((req, res) => {
      openSession(req, res, { retry: false, heartbeat: false })!.send('ok')
    })
    const stream = open(server.url + '/chat?x=1', {
      method: 'POST',
      headers: { authorization: 'Bearer t0k3n', 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'hi' }),
      lastEventId: 'start-7',
    })
    const { events } = record(stream, 'message')
    await until(() => events.length === 1)
    const [seen] = server.requests
    expect(seen).toMatchObject({ method: 'POST', url: '/chat?x=1', body: '{"prompt":"hi"}' })
    expect(seen!.headers).toMatchObject({
      authorization: 'Bearer t0k3n',
      'content-type': 'application/json',
      accept: 'text/event-stream',
      'last-event-id': 'start-7',
    })
    expect(stream.url).toBe(server.url + '/chat?x=1')
    expect(events[0]).toEqual({ type: 'message', data: 'ok', lastEventId: 'start-7' })
  })

  test('named events, ids and multi-line data arrive as the spec parses them', async () => {
    const server = await serve((_req, res) =>
      openStream(
        res,
        'event: price\nid: 1\ndata: {"usd":1}\n\n' +
          'data: line one\ndata: line two\n\n' +
          ': a comment\nevent: price\ndata: 2\nid: 2\n\n' +
          'id: 3\n\n',
      ),
    )
    const stream = open(server.url)
    const { events } = record(stream, 'message', 'price')
    let onmessage = 0
    stream.onmessage = () => onmessage++
    await until(() => events.length === 3 && stream.lastEventId === '3')
    expect(events).toEqual([
      { type: 'price', data: '{"usd":1}', lastEventId: '1' },
      { type: 'message', data: 'line one\nline two', lastEventId: '1' },
      { type: 'price', data: '2', lastEventId: '2' },
    ])
    expect(onmessage).toBe(1)
    expect(stream.readyState).toBe(OPEN)
  })

  test('misuse throws a TypeError with a hint', () => {
    expect(() => connect('http://x', { body: 'a' })).toThrow(/method: 'POST'/)
    expect(() => connect('http://x', { method: 'POST', body: new ReadableStream() })).toThrow(
      /re-sent on every reconnect/,
    )
    expect(() => connect('http://x', { retry: -1 })).toThrow(TypeError)
    expect(() => connect('http://x', { maxRetry: Number.NaN })).toThrow(TypeError)
    expect(() => connect('http://x', { lastEventId: 'a\nb' })).toThrow(TypeError)
  })
})

describe('reconnection', () => {
  test('an id above U+00FF broke reconnection (not a ByteString); its UTF-8 bytes are sent and decode back', async () => {
    const id = 'caf\u00e9 \u2026 \u{1f600}'
    const seenIds: Array<string | undefined> = []
    const server = await serve((req, res) => {
      seenIds.push(readLastEventId(req.headers['last-event-id'] as string | undefined, req.url))
      if (seenIds.length === 1) {
        openStream(res, `id: ${id}\ndata: first\n\n`)
        res.end()
      } else openStream(res, 'data: second\n\n')
    })
    const stream = open(server.url, { retry: 10 })
    const { events, errors } = record(stream, 'message')
    await until(() => events.length === 2)
    expect(events.map((event) => event.data)).toEqual(['first', 'second'])
    expect(seenIds).toEqual([undefined, id])
    // Only the end of the first stream; no fetch failed.
    expect(errors.map((e) => e.error.code)).toEqual(['SSE_CONNECTION'])
  })

  test("fetch was not told cache: 'no-store', as the processing model requires", async () => {
    const server = await serve((_req, res) => openStream(res, 'data: x\n\n'))
    const modes: Array<RequestCache | undefined> = []
    const stream = open(server.url, {
      fetch: (input, init) => {
        modes.push(init?.cache)
        return fetch(input, init)
      },
    })
    const { events } = record(stream, 'message')
    await until(() => events.length === 1)
    expect(modes).toEqual(['no-store'])
  })

  test('reconnects after the server drops the connection, with Last-Event-ID and nothing missed', async () => {
    const hub = createHub()
    cleanups.push(() => hub.close())
    const sessions: Session[] = []
    const server = await serve((req, res) => {
      const session = openSession(req, res, { retry: 20, heartbeat: false })!
      sessions.push(session)
      void hub.subscribe(session, 'feed')
    })
    const stream = open(server.url, { retry: 5000 })
    const { events, errors } = record(stream, 'message')
    await until(() => hub.size === 1)
    for (let i = 1; i <= 3; i++) await hub.publish('feed', `e${i}`)
    await until(() => events.length === 3)
    const lastSeen = events[2]!.lastEventId

    sessions[0]!.close()
    // Published while the client is away: replayed on reconnect.
    for (let i = 4; i <= 6; i++) await hub.publish('feed', `e${i}`)
    await until(() => events.length === 6)

    expect(events.map((event) => event.data)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6'])
    expect(server.requests).toHaveLength(2)
    expect(server.requests[0]!.headers['last-event-id']).toBeUndefined()
    expect(server.requests[1]!.headers['last-event-id']).toBe(lastSeen)
    // The drop is reported like EventSource does: error while CONNECTING.
    expect(errors).toHaveLength(1)
    expect(errors[0]!.readyState).toBe(CONNECTING)
    expect(stream.readyState).toBe(OPEN)
    expect(stream.lastEventId).toBe(events[5]!.lastEventId)
  })

  test("the server's retry: replaces the reconnection time", async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1)
    let ended = 0
    const server = await serve((_req, res) => {
      openStream(res, 'retry: 300\ndata: x\n\n')
      if (server.requests.length === 1) {
        res.end()
        ended = performance.now()
      }
    })
    // Without the server's retry: the client would wait a minute.
    open(server.url, { retry: 60_000 })
    await until(() => server.requests.length === 2)
    const gap = server.requests[1]!.at - ended
    expect(gap).toBeGreaterThanOrEqual(250)
    expect(gap).toBeLessThan(5000)
  })

  test('the stream ending normally reconnects; reconnect: false closes instead', async () => {
    const server = await serve((_req, res) => {
      openStream(res, 'data: once\n\n')
      res.end()
    })
    const again = open(`${server.url}/?stream=again`, { retry: 10 })
    const { events } = record(again, 'message')
    await until(() => events.length >= 2)
    again.close()
    expect(events.map((event) => event.data).slice(0, 2)).toEqual(['once', 'once'])

    // Counted per stream: a 10 ms reconnect of `again` may still be on its
    // way to the server, and must not count as one of `once`'s requests.
    const once = open(`${server.url}/?stream=once`, { retry: 10, reconnect: false })
    const seen: string[] = []
    const errors = record(once).errors
    for await (const event of once) seen.push(event.data)
    expect(seen).toEqual(['once'])
    expect(once.readyState).toBe(CLOSED)
    expect(errors).toEqual([])
    await sleep(100)
    expect(server.requests.filter((r) => r.url === '/?stream=once')).toHaveLength(1)
  })

  test('500 retries with exponential backoff, bounded', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1)
    const server = await serve((_req, res) => {
      res.writeHead(500).end('oops')
    })
    const stream = open(server.url, { retry: 50, maxRetry: 400 })
    const { errors } = record(stream)
    const started = performance.now()
    await sleep(1000)
    // Windows 50, 100, 200, 400, 400…: requests near 0, 50, 150, 350, 750 ms.
    const count = server.requests.length
    expect(count).toBeGreaterThanOrEqual(3)
    expect(count).toBeLessThanOrEqual(6)
    // Each gap is at least its window, and the windows grow: 50, 100, 200…
    const gaps = server.requests.slice(1).map((r, i) => r.at - server.requests[i]!.at)
    expect(gaps.at(-1)!).toBeGreaterThanOrEqual(90)
    expect(errors.length).toBeGreaterThanOrEqual(count - 1)
    expect(errors[0]!.error.status).toBe(500)
    expect(errors[0]!.readyState).toBe(CONNECTING)
    stream.close()
    const closedAt = performance.now()
    const errorsAtClose = errors.length
    await sleep(500)
    // No attempt after close(): no error event, and nothing reaches the server
    // later than a request already on its way when close() ran could (the next
    // window would be 400 ms).
    expect(errors.length).toBe(errorsAtClose)
    expect(server.requests.filter((r) => r.at > closedAt + 100)).toEqual([])
    expect(performance.now() - started).toBeGreaterThan(1000)
  })

  test.each([408, 429, 502, 503])('%i is retried', async (status) => {
    const server = await serve((_req, res) => {
      if (server.requests.length === 1) res.writeHead(status).end()
      else openStream(res, 'data: back\n\n')
    })
    const stream = open(server.url, { retry: 10 })
    const { events, errors } = record(stream, 'message')
    await until(() => events.length === 1)
    expect(errors.map((e) => e.error.status)).toEqual([status])
  })

  test('Retry-After (seconds) is waited out', async () => {
    const server = await serve((_req, res) => {
      if (server.requests.length === 1) res.writeHead(503, { 'retry-after': '1' }).end()
      else openStream(res, 'data: back\n\n')
    })
    const stream = open(server.url, { retry: 10 })
    const { events } = record(stream, 'message')
    await until(() => events.length === 1)
    const gap = server.requests[1]!.at - server.requests[0]!.at
    expect(gap).toBeGreaterThanOrEqual(950)
  })

  test('network errors are retried and reported with the cause', async () => {
    const gone = await startServer(() => undefined)
    await gone.close()
    const stream = open(gone.url, { retry: 10, maxRetry: 20 })
    const { errors } = record(stream)
    await until(() => errors.length >= 3)
    expect(stream.readyState).toBe(CONNECTING)
    expect(errors[0]!.error.code).toBe('SSE_CONNECTION')
    expect(errors[0]!.error.status).toBeUndefined()
    expect(errors[0]!.error.cause).toBeInstanceOf(Error)
  })
})

describe('token refresh', () => {
  test('a headers function is called before every attempt: the token is renewed on reconnect, the resume goes on', async () => {
    const server = await serve((_req, res, seen) => {
      if (server.requests.length === 1) {
        openStream(res, 'id: 1\ndata: first\n\n')
        res.end()
      } else openStream(res, `data: ${seen.headers.authorization}\n\n`)
    })
    let issued = 0
    const stream = open(server.url, {
      retry: 10,
      headers: async () => ({ authorization: `Bearer t${++issued}` }),
    })
    const { events } = record(stream, 'message')
    await until(() => events.length === 2)
    expect(events.map((e) => e.data)).toEqual(['first', 'Bearer t2'])
    expect(
      server.requests.map((r) => [r.headers.authorization, r.headers['last-event-id']]),
    ).toEqual([
      ['Bearer t1', undefined],
      ['Bearer t2', '1'],
    ])
  })

  test('a URL function is called before every attempt', async () => {
    const server = await serve((req, res) => {
      openStream(res, `data: ${req.url}\n\n`)
      res.end()
    })
    let n = 0
    const stream = open(() => `${server.url}/s?attempt=${++n}`, { retry: 10 })
    const { events } = record(stream, 'message')
    // Every stream ends, so more may follow by the time this is checked.
    await until(() => events.length >= 2)
    expect(events.map((e) => e.data).slice(0, 2)).toEqual(['/s?attempt=1', '/s?attempt=2'])
    expect(stream.url).toMatch(/\/s\?attempt=[2-9]$/)
  })

  test('a headers function that throws fails that attempt like a network error, then retries', async () => {
    const server = await serve((_req, res) => openStream(res, 'data: ok\n\n'))
    let calls = 0
    const stream = open(server.url, {
      retry: 10,
      headers: () => {
        if (++calls === 1) throw new Error('token service down')
        return { authorization: 'Bearer fresh' }
      },
    })
    const { events, errors } = record(stream, 'message')
    await until(() => events.length === 1)
    expect(errors.map((e) => [e.error.code, (e.error.cause as Error).message])).toEqual([
      ['SSE_CONNECTION', 'token service down'],
    ])
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer fresh'])
  })

  test.each([401, 403])(
    '%i goes to onUnauthorized: true retries with the refreshed token',
    async (status) => {
      let token = 'expired'
      const server = await serve((_req, res, seen) => {
        if (seen.headers.authorization !== 'Bearer valid') res.writeHead(status).end()
        else openStream(res, 'data: in\n\n')
      })
      const asked: number[] = []
      const stream = open(server.url, {
        retry: 10,
        headers: () => ({ authorization: `Bearer ${token}` }),
        onUnauthorized: async (error) => {
          asked.push(error.status!)
          token = 'valid'
          return true
        },
      })
      const { events } = record(stream, 'message')
      await until(() => events.length === 1)
      expect(asked).toEqual([status])
      expect(server.requests).toHaveLength(2)
    },
  )

  test('onUnauthorized resolving false stops the stream after one request', async () => {
    const server = await serve((_req, res) => res.writeHead(401).end())
    const stream = open(server.url, { retry: 10, onUnauthorized: () => false })
    const { errors } = record(stream)
    await until(() => stream.readyState === CLOSED)
    expect(server.requests).toHaveLength(1)
    expect(errors.map((e) => [e.error.status, e.readyState])).toEqual([[401, CLOSED]])
  })
})

describe('responses that stop the stream', () => {
  test('204 stops for good: one request, CLOSED, iteration ends normally', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(204).end()
    })
    const stream = open(server.url, { retry: 10 })
    const { errors } = record(stream)
    const seen: ParsedEvent[] = []
    for await (const event of stream) seen.push(event)
    await sleep(100)
    expect(seen).toEqual([])
    expect(server.requests).toHaveLength(1)
    expect(stream.readyState).toBe(CLOSED)
    expect(errors).toHaveLength(1)
    expect(errors[0]!.error.status).toBe(204)
    expect(errors[0]!.readyState).toBe(CLOSED)
  })

  test.each([
    [400, 'text/plain'],
    [401, 'text/plain'],
    [404, 'text/html'],
    [200, 'text/html; charset=utf-8'],
  ])('%i %s: one typed error, exactly one request', async (status, type) => {
    const server = await serve((_req, res) => {
      res.writeHead(status, { 'content-type': type }).end('<h1>nope</h1>')
    })
    const stream = open(server.url, { retry: 10 })
    const { errors } = record(stream)
    let opened = 0
    stream.onopen = () => opened++
    const iteration = (async () => {
      for await (const _ of stream) {
        // no events expected
      }
    })()
    await expect(iteration).rejects.toMatchObject({ code: 'SSE_INVALID_RESPONSE', status })
    await sleep(150)
    expect(server.requests).toHaveLength(1)
    expect(opened).toBe(0)
    expect(errors).toHaveLength(1)
    const { error, readyState } = errors[0]!
    expect(error).toBeInstanceOf(SseError)
    expect(error.code).toBe('SSE_INVALID_RESPONSE')
    expect(error.status).toBe(status)
    expect(readyState).toBe(CLOSED)
  })

  test.each([205, 210, 299])(
    'a %i with an event-stream type was accepted (205 looped); the spec fails the connection: one request',
    async (status) => {
      const server = await serve((_req, res) => {
        res.writeHead(status, { 'content-type': 'text/event-stream' }).end('data: not a stream\n\n')
      })
      const stream = open(server.url, { retry: 10 })
      const { events, errors } = record(stream, 'message')
      await until(() => stream.readyState === CLOSED)
      // Closed for good: no request can still be in flight.
      expect(server.requests).toHaveLength(1)
      expect(events).toEqual([])
      expect(errors.map((e) => [e.error.code, e.error.status, e.readyState])).toEqual([
        ['SSE_INVALID_RESPONSE', status, CLOSED],
      ])
    },
  )

  test.each([500, 503])(
    'retryServerErrors: false follows the spec: %i fails the connection',
    async (status) => {
      const server = await serve((_req, res) => {
        res.writeHead(status, { 'retry-after': '0' }).end()
      })
      const stream = open(server.url, { retry: 10, retryServerErrors: false })
      const { errors } = record(stream)
      await until(() => stream.readyState === CLOSED)
      expect(server.requests).toHaveLength(1)
      expect(errors.map((e) => [e.error.status, e.readyState])).toEqual([[status, CLOSED]])
    },
  )

  test('an error nobody listens to is not an unhandled rejection', async () => {
    const unhandled = vi.fn()
    process.on('unhandledRejection', unhandled)
    cleanups.push(() => process.off('unhandledRejection', unhandled))
    const server = await serve((_req, res) => {
      res.writeHead(401).end()
    })
    const stream = open(server.url)
    const gone = await startServer(() => undefined)
    await gone.close()
    const failing = open(gone.url, { reconnect: false })
    await until(() => stream.readyState === CLOSED && failing.readyState === CLOSED)
    await sleep(50)
    expect(unhandled).not.toHaveBeenCalled()
  })
})

describe('closing', () => {
  test('close() cancels the body (the server sees the disconnect) and stops for good', async () => {
    const server = await serve((_req, res) => openStream(res, 'retry: 10\ndata: hi\n\n'))
    const stream = open(server.url)
    const { events, errors } = record(stream, 'message')
    await until(() => events.length === 1)
    stream.close()
    expect(stream.readyState).toBe(CLOSED)
    await server.requests[0]!.gone
    await sleep(100)
    expect(server.requests).toHaveLength(1)
    expect(errors).toEqual([])
    stream.close()
  })

  test('aborting the signal closes the stream and ends iteration', async () => {
    const server = await serve((_req, res) => openStream(res, 'data: hi\n\n'))
    const controller = new AbortController()
    const stream = open(server.url, { signal: controller.signal, retry: 10 })
    const seen: string[] = []
    for await (const event of stream) {
      seen.push(event.data)
      controller.abort()
    }
    expect(seen).toEqual(['hi'])
    expect(stream.readyState).toBe(CLOSED)
    await server.requests[0]!.gone

    const aborted = connect(server.url, { signal: AbortSignal.abort() })
    expect(aborted.readyState).toBe(CLOSED)
    await sleep(50)
    expect(server.requests).toHaveLength(1)
  })

  test('close() during the reconnect wait sends no more requests', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(500).end()
    })
    const stream = open(server.url, { retry: 200 })
    const { errors } = record(stream)
    await until(() => errors.length === 1)
    stream.close()
    await sleep(500)
    expect(server.requests).toHaveLength(1)
  })
})

describe('async iteration', () => {
  test('yields every event type; break closes the stream', async () => {
    const server = await serve((_req, res) =>
      openStream(res, 'data: 1\n\nevent: tick\ndata: 2\n\ndata: 3\n\ndata: 4\n\n'),
    )
    const stream = open(server.url)
    const seen: string[] = []
    for await (const event of stream) {
      seen.push(`${event.type}:${event.data}`)
      if (seen.length === 3) break
    }
    expect(seen).toEqual(['message:1', 'tick:2', 'message:3'])
    expect(stream.readyState).toBe(CLOSED)
    await server.requests[0]!.gone
  })

  test('a slow consumer loses nothing while the buffer is bounded', async () => {
    const total = 5000
    const server = await serve((_req, res) => {
      let frames = ''
      for (let i = 0; i < total; i++) frames += `id: ${i}\ndata: ${i}\n\n`
      openStream(res, frames)
    })
    const stream = open(server.url)
    let expected = 0
    for await (const event of stream) {
      expect(event.data).toBe(String(expected))
      expected++
      if (expected % 500 === 0) await sleep(5)
      if (expected === total) break
    }
    expect(expected).toBe(total)
  })

  test('two iterators each get every event', async () => {
    const server = await serve((_req, res) => openStream(res, 'data: a\n\ndata: b\n\n'))
    const stream = open(server.url)
    const take = async (n: number) => {
      const out: string[] = []
      const iterator = stream[Symbol.asyncIterator]()
      while (out.length < n) {
        const { value, done } = await iterator.next()
        if (done) break
        out.push(value.data)
      }
      return out
    }
    const [first, second] = await Promise.all([take(2), take(2)])
    expect(first).toEqual(['a', 'b'])
    expect(second).toEqual(['a', 'b'])
  })
})

describe('listeners', () => {
  test('add, dedupe, remove, on* properties and open', async () => {
    let res: ServerResponse | undefined
    const server = await serve((_req, response) => {
      res = response
      openStream(response)
    })
    const stream = open(server.url)
    const calls: string[] = []
    const a = (event: ParsedEvent) => calls.push(`a:${event.data}`)
    const b = (event: ParsedEvent) => calls.push(`b:${event.data}`)
    stream.addEventListener('message', a)
    stream.addEventListener('message', a)
    stream.addEventListener('message', b)
    stream.addEventListener('news', b)
    stream.onmessage = (event) => calls.push(`on:${event.data}`)
    let opens = 0
    stream.onopen = () => opens++
    stream.addEventListener('open', () => opens++)
    await until(() => opens === 2)
    expect(stream.readyState).toBe(OPEN)

    res!.write('data: 1\n\n')
    await until(() => calls.length === 3)
    stream.removeEventListener('message', a)
    stream.onmessage = null
    res!.write('data: 2\n\nevent: news\ndata: 3\n\n')
    await until(() => calls.length === 5)
    expect(calls).toEqual(['on:1', 'a:1', 'b:1', 'b:2', 'b:3'])
  })

  test('a throwing listener is reported and does not break the stream', async () => {
    const reported = vi.fn()
    vi.stubGlobal('reportError', reported)
    cleanups.push(() => vi.unstubAllGlobals())
    const server = await serve((_req, res) => openStream(res, 'data: 1\n\ndata: 2\n\n'))
    const stream = open(server.url)
    const seen: string[] = []
    stream.addEventListener('message', () => {
      throw new Error('listener bug')
    })
    stream.addEventListener('message', (event) => seen.push(event.data))
    await until(() => seen.length === 2)
    expect(reported).toHaveBeenCalledTimes(2)
    expect(stream.readyState).toBe(OPEN)
  })

  test('server events named open or error reach iteration only', async () => {
    const server = await serve((_req, res) =>
      openStream(res, 'event: error\ndata: x\n\nevent: open\ndata: y\n\ndata: z\n\n'),
    )
    const stream = open(server.url)
    const { errors } = record(stream)
    let opens = 0
    stream.addEventListener('open', () => opens++)
    const seen: string[] = []
    for await (const event of stream) {
      seen.push(event.type)
      if (seen.length === 3) break
    }
    expect(seen).toEqual(['error', 'open', 'message'])
    expect(errors).toEqual([])
    expect(opens).toBe(1)
  })
})
