import {
  createHub,
  createResponse,
  createSession,
  MAX_LAST_EVENT_ID_LENGTH,
  readEvents,
  readLastEventId,
  type Session,
  sse,
} from '@sse/core'
import { describe, expect, test } from 'vitest'
import { memorySink } from './fixtures'

const url = 'http://localhost/events'

describe('createResponse', () => {
  test('status and the event-stream headers; never Connection or Transfer-Encoding', () => {
    const response = createResponse(new Request(url), (s) => s.close())
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform')
    expect(response.headers.get('x-accel-buffering')).toBe('no')
    expect(response.headers.has('connection')).toBe(false)
    expect(response.headers.has('transfer-encoding')).toBe(false)
  })

  test('extra headers are kept; they cannot replace the stream ones or break the stream', () => {
    const headers = new Headers({
      'access-control-allow-origin': 'https://app.example',
      'content-type': 'text/html',
      'content-length': '10',
      connection: 'close',
    })
    headers.append('set-cookie', 'a=1; Path=/')
    headers.append('set-cookie', 'b=2, c; Path=/')
    const response = createResponse(new Request(url), (s) => s.close(), { headers })
    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(response.headers.has('content-length')).toBe(false)
    expect(response.headers.has('connection')).toBe(false)
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2, c; Path=/'])
  })

  test('sse(handler) is a (request) => Response handler; the handler gets the request', async () => {
    const GET = sse(
      (session, request) => {
        session.send(new URL(request.url).searchParams.get('name'))
        session.close()
      },
      { retry: false },
    )
    const events = await readEvents(GET(new Request(`${url}?name=ada`)))
    expect(events.map((e) => e.data)).toEqual(['ada'])
  })

  test('misuse is a TypeError when the route is defined, not at its first request', () => {
    expect(() => sse((() => undefined) as never, { heartbeat: -1 })).toThrow(TypeError)
    expect(() => sse('nope' as never)).toThrow(/handler/)
    expect(() => sse(() => undefined, { onError: 'log' as never })).toThrow(/onError/)
    expect(() => sse(() => undefined, { slowClient: 'nope' as never })).toThrow(/slowClient/)
  })

  test('the body carries retry, events and comments, read with the core parser', async () => {
    const response = createResponse(new Request(url), (session) => {
      session.send({ a: 1 }, { event: 'x', id: '1' })
      session.send('two\nlines')
      session.close()
    })
    const text = await response.text()
    expect(text).toBe('retry: 2000\nevent: x\nid: 1\ndata: {"a":1}\n\ndata: two\ndata: lines\n\n')
  })

  test('the stream outlives the handler: an async producer keeps sending after it returns', async () => {
    const response = createResponse(
      new Request(url),
      (session) => {
        let n = 0
        const timer = setInterval(() => {
          session.send(n++)
          if (n === 3) session.close()
        }, 5)
        session.signal.addEventListener('abort', () => clearInterval(timer))
      },
      { retry: false },
    )
    const events = await readEvents(response)
    expect(events.map((e) => e.data)).toEqual(['0', '1', '2'])
  })

  test('request.signal abort closes the session', async () => {
    const controller = new AbortController()
    let session!: Session
    const response = createResponse(new Request(url, { signal: controller.signal }), (s) => {
      session = s
    })
    expect(session.closed).toBe(false)
    controller.abort()
    expect(session.closed).toBe(true)
    expect(session.send('late')).toBe(false)
    await response.body!.cancel()
  })

  test('a request aborted before the stream opens gives a session closed at once, by the client', async () => {
    const controller = new AbortController()
    controller.abort()
    let session!: Session
    const response = createResponse(new Request(url, { signal: controller.signal }), (s) => {
      session = s
    })
    expect(session.closed).toBe(true)
    expect(session.closeReason).toBe('client')
    expect(session.send('late')).toBe(false)
    await response.body!.cancel()
  })

  test('cancelling the body (client gone) closes the session and later sends report false', async () => {
    let session!: Session
    const response = createResponse(new Request(url), (s) => {
      session = s
    })
    await response.body!.cancel()
    expect(session.closed).toBe(true)
    expect(session.signal.aborted).toBe(true)
    expect(session.send('x')).toBe(false)
  })

  test('a handler that throws synchronously closes the session and the error propagates', () => {
    let session!: Session
    expect(() =>
      createResponse(new Request(url), (s) => {
        session = s
        throw new Error('sync')
      }),
    ).toThrow('sync')
    expect(session.closed).toBe(true)
  })

  test('an async handler that rejects closes the stream and reaches onError', async () => {
    const errors: unknown[] = []
    const response = createResponse(
      new Request(url),
      async () => Promise.reject(new Error('async')),
      {
        onError: (e, session, request) => {
          errors.push(e)
          expect(session.closeReason).toBe('error')
          expect(session.closeCause).toBe(e)
          expect(request.url).toBe(url)
        },
      },
    )
    await response.text()
    expect(errors.map((e) => (e as Error).message)).toEqual(['async'])
  })

  test('without onError a rejection is left unhandled, never swallowed', async () => {
    const unhandled: unknown[] = []
    const listener = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', listener)
    try {
      const response = createResponse(new Request(url), async () => {
        throw new Error('nobody listened')
      })
      await response.text()
      await new Promise((r) => setTimeout(r, 10))
    } finally {
      process.off('unhandledRejection', listener)
    }
    expect(unhandled.map((e) => (e as Error).message)).toEqual(['nobody listened'])
  })

  test('a body nobody reads applies backpressure: the session queues within its bound', async () => {
    let session!: Session
    const response = createResponse(
      new Request(url),
      (s) => {
        session = s
      },
      { highWaterMark: 1024, maxQueueBytes: 4096, slowClient: 'drop-oldest', heartbeat: false },
    )
    const payload = 'z'.repeat(100)
    for (let i = 0; i < 1000; i++) session.send(payload)
    expect(session.queuedBytes).toBeGreaterThan(0)
    expect(session.queuedBytes).toBeLessThanOrEqual(4096)
    // Reading drains the queue into the body again.
    const events = await readEvents(response, { count: 5 })
    expect(events.length).toBeGreaterThanOrEqual(5)
    session.close()
  })

  test('Last-Event-ID from the header, else ?lastEventId=, drives replay', async () => {
    const hub = createHub()
    const probe = memorySink()
    await hub.subscribe(createSession(probe, { retry: false, heartbeat: false }), 'news').ready
    for (let i = 0; i < 4; i++) await hub.publish('news', i)
    const ids = probe.events().map((event) => event.lastEventId)
    const viaHeader = createResponse(
      new Request(url, { headers: { 'last-event-id': ids[1]! } }),
      async (s) => {
        await hub.subscribe(s, 'news').ready
        s.close()
      },
    )
    const viaQuery = createResponse(
      new Request(`${url}?lastEventId=${encodeURIComponent(ids[2]!)}`),
      async (s) => {
        await hub.subscribe(s, 'news').ready
        s.close()
      },
    )
    expect((await readEvents(viaHeader)).map((e) => e.data)).toEqual(['2', '3'])
    expect((await readEvents(viaQuery)).map((e) => e.data)).toEqual(['3'])
  })
})

describe('readLastEventId', () => {
  test('header first, query parameter as fallback', () => {
    expect(readLastEventId('h-1', `${url}?lastEventId=q-1`)).toBe('h-1')
    expect(readLastEventId(null, `${url}?lastEventId=q-1`)).toBe('q-1')
    expect(readLastEventId(undefined, new URL(`${url}?lastEventId=q%202`))).toBe('q 2')
    expect(readLastEventId(null, url)).toBeUndefined()
    expect(readLastEventId(null, '/relative?lastEventId=r')).toBe('r')
  })

  test('malformed or oversized values are ignored, never thrown', () => {
    const bad = [
      '',
      'x'.repeat(MAX_LAST_EVENT_ID_LENGTH + 1),
      'a\nb',
      'a\rb',
      'a\0b',
      '\x7f',
      'bad\uFFFDutf8',
    ]
    for (const value of bad) {
      expect(readLastEventId(value), JSON.stringify(value)).toBeUndefined()
      expect(
        readLastEventId(null, `${url}?lastEventId=${encodeURIComponent(value)}`),
      ).toBeUndefined()
    }
    expect(readLastEventId(null, `${url}?lastEventId=%FF%FE`)).toBeUndefined()
    expect(readLastEventId(null, 'http://[bad')).toBeUndefined()
    expect(readLastEventId('x'.repeat(MAX_LAST_EVENT_ID_LENGTH))).toHaveLength(
      MAX_LAST_EVENT_ID_LENGTH,
    )
  })

  test("a non-ASCII id's UTF-8 header bytes decode back to the id; bytes that are not UTF-8 are ignored", () => {
    const id = 'caf\u00e9 \u2026 \u{1f600}'
    // How Node's parser and Web `Headers` hand over a header: one char per byte.
    const asHeader = (text: string) => String.fromCharCode(...new TextEncoder().encode(text))
    expect(readLastEventId(asHeader(id))).toBe(id)
    // Already decoded by a framework (a char above U+00FF): kept as it is.
    expect(readLastEventId(id)).toBe(id)
    // The query is percent-decoded already: an é there stays an é.
    expect(readLastEventId(null, `${url}?lastEventId=${encodeURIComponent('\u00e9')}`)).toBe(
      '\u00e9',
    )
    expect(readLastEventId('\u00ff\u00fe')).toBeUndefined()
    expect(readLastEventId(asHeader('\u00e9'.repeat(MAX_LAST_EVENT_ID_LENGTH)))).toHaveLength(
      MAX_LAST_EVENT_ID_LENGTH,
    )
    expect(readLastEventId(asHeader('\u00e9'.repeat(MAX_LAST_EVENT_ID_LENGTH + 1)))).toBeUndefined()
  })

  test('a malformed header does not fall back to the query', () => {
    expect(readLastEventId('a\nb', `${url}?lastEventId=q`)).toBeUndefined()
  })
})
