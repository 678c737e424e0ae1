import http from 'node:http'
import http2, { createServer as createH2cServer, type Http2ServerResponse } from 'node:http2'
import { createAdaptorServer } from '@hono/node-server'
import { createConnectionLimiter } from '@sse/core'
import { type Session, sse } from '@sse/hono'
import {
  CORS_ORIGIN,
  fetchEvents,
  type ListeningServer,
  listen,
  MIDDLEWARE_HEADER,
  type NodeServer,
} from '@sse/test-utils'
import { type Context, Hono } from 'hono'
import { cors } from 'hono/cors'
import { afterEach, expect, test } from 'vitest'

let server: ListeningServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** Serves `app` on 127.0.0.1:0 through @hono/node-server; returns its URL. */
async function serve(app: { fetch: Hono['fetch'] }): Promise<string> {
  server = await listen(createAdaptorServer({ fetch: app.fetch }) as NodeServer)
  return server.url
}

test('the handler gets c, with typed route params and variables when named', async () => {
  const app = new Hono<{ Variables: { user: string } }>()
  app.use(async (c, next) => {
    c.set('user', 'ada')
    await next()
  })
  app.get(
    '/rooms/:id',
    // Hono cannot infer the route through a wrapper: name the env and path.
    sse<{ Variables: { user: string } }, '/rooms/:id'>((session, c) => {
      const id: string = c.req.param('id')
      const user: string = c.get('user')
      session.send(`${user}@${id}`)
    }),
  )
  const capture = await fetchEvents(`${await serve(app)}/rooms/42`, {
    until: (c) => c.events.length >= 1,
  })
  expect(capture.events.map((e) => e.data)).toEqual(['ada@42'])
})

test('c.header() alone (nothing read c.res) is kept; earlier middleware cannot replace the event-stream headers', async () => {
  const app = new Hono()
  app.use(async (c, next) => {
    c.header('x-early', 'yes')
    c.header('cache-control', 'max-age=60')
    c.header('set-cookie', 'a=1')
    await next()
  })
  app.get(
    '/',
    sse((session) => session.send('hi'), { headers: { 'set-cookie': 'b=2' } }),
  )
  const response = await fetch(await serve(app))
  await response.body?.cancel()
  expect(response.headers.get('x-early')).toBe('yes')
  expect(response.headers.get('cache-control')).toBe('no-cache, no-transform')
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
  expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
})

// The contract's head check uses `agent: false`, which asks for `Connection:
// close`; a Web Response cannot set hop-by-hop headers, so this checks the same
// head with a keep-alive client, as browsers and fetch are.
test('a keep-alive client gets the event-stream head, Connection: keep-alive and CORS', async () => {
  const app = new Hono()
  app.use(async (c, next) => {
    c.header(MIDDLEWARE_HEADER, 'kept')
    await next()
  })
  app.use(cors({ origin: CORS_ORIGIN }))
  app.get(
    '/',
    sse((session) => session.send('hi')),
  )
  const url = await serve(app)
  const agent = new http.Agent({ keepAlive: true })
  const head = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.get(url, { agent, headers: { origin: CORS_ORIGIN } }, (res) => {
      resolve(res)
      res.destroy()
    })
    req.on('error', reject)
  })
  agent.destroy()
  expect(head.statusCode).toBe(200)
  expect(head.headers).toMatchObject({
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
    connection: 'keep-alive',
    [MIDDLEWARE_HEADER]: 'kept',
    'access-control-allow-origin': CORS_ORIGIN,
  })
})

test("without onError, a synchronous throw closes the session and becomes Hono's error response", async () => {
  const errors: unknown[] = []
  const sessions: Session[] = []
  const app = new Hono()
    .get(
      '/',
      sse((session) => {
        sessions.push(session)
        throw new Error('boom')
      }),
    )
    .onError((error, c) => {
      errors.push(error)
      return c.text('failed', 500)
    })
  const response = await fetch(await serve(app))
  expect(response.status).toBe(500)
  expect(await response.text()).toBe('failed')
  expect(errors).toEqual([new Error('boom')])
  expect(sessions[0]?.closeReason).toBe('error')
})

test('with onError, sync and async failures reach it with the session and c; the stream ends', async () => {
  const errors: Array<[unknown, string | undefined, string]> = []
  const onError = (error: unknown, session: Session, c: Context) =>
    void errors.push([error, session.closeReason, c.req.path])
  const app = new Hono()
    .get(
      '/sync',
      sse(
        (session) => {
          session.send('before')
          throw new Error('now')
        },
        { onError },
      ),
    )
    .get(
      '/async',
      sse(async () => Promise.reject(new Error('later')), { onError }),
    )
  const url = await serve(app)
  const sync = await fetchEvents(`${url}/sync`)
  expect(sync.status).toBe(200)
  expect(sync.events.map((event) => event.data)).toEqual(['before'])
  const later = await fetchEvents(`${url}/async`)
  expect(later.events).toEqual([])
  await expect.poll(() => errors.length).toBe(2)
  expect(errors).toEqual([
    [new Error('now'), 'error', '/sync'],
    [new Error('later'), 'error', '/async'],
  ])
})

test('misuse is a TypeError when the handler is created', () => {
  expect(() => sse(() => undefined, { heartbeat: -1 })).toThrow(TypeError)
  expect(() => sse(42 as never)).toThrow(/handler/)
})

test('the 429 over the limit keeps the headers of earlier middleware (CORS), so the browser can read it', async () => {
  const limiter = createConnectionLimiter({ max: 1, retryAfter: 6 })
  const app = new Hono()
  app.use(cors({ origin: CORS_ORIGIN, exposeHeaders: ['retry-after'] }))
  app.get(
    '/',
    sse(() => undefined, { limit: { limiter } }),
  )
  const url = await serve(app)
  const held = new AbortController()
  const first = await fetch(url, { signal: held.signal, headers: { origin: CORS_ORIGIN } })
  const refused = await fetch(url, { headers: { origin: CORS_ORIGIN } })
  expect([first.status, refused.status]).toEqual([200, 429])
  expect(refused.headers.get('access-control-allow-origin')).toBe(CORS_ORIGIN)
  expect(refused.headers.get('retry-after')).toBe('6')
  held.abort()
})

test.each(['HTTP/1.1', 'HTTP/2'] as const)(
  'on @hono/node-server over %s, a client gone before its stream opened has its session closed as client-gone',
  async (protocol) => {
    // Before: the session was told only by the request's signal and the body's
    // cancel, and @hono/node-server fires neither for a client that left before
    // it started reading the body: the session stayed open for good.
    const app = new Hono()
    let entered!: () => void
    const handlerEntered = new Promise<void>((resolve) => {
      entered = resolve
    })
    let opened: Session | undefined
    app.get(
      '/late',
      async (c, next) => {
        entered()
        const outgoing = (c.env as { outgoing: http.ServerResponse | Http2ServerResponse }).outgoing
        const gone = 'stream' in outgoing ? outgoing.stream.destroyed : outgoing.destroyed
        if (!gone) await new Promise((resolve) => outgoing.once('close', resolve))
        await next()
      },
      sse((session) => {
        opened = session
      }),
    )
    if (protocol === 'HTTP/1.1') {
      const url = new URL(`${await serve(app)}/late`)
      const request = http.get({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        agent: false,
      })
      request.on('error', () => undefined)
      await handlerEntered
      request.destroy()
    } else {
      server = await listen(
        createAdaptorServer({ fetch: app.fetch, createServer: createH2cServer }) as NodeServer,
      )
      const client = http2.connect(server.url)
      client.on('error', () => undefined)
      client.request({ ':path': '/late' }).on('error', () => undefined)
      await handlerEntered
      client.destroy()
    }
    await expect.poll(() => opened?.closeReason, { timeout: 2000 }).toBe('client')
  },
)
