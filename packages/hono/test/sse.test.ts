import http from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import { sse } from '@sse/hono'
import {
  CORS_ORIGIN,
  fetchEvents,
  type ListeningServer,
  listen,
  MIDDLEWARE_HEADER,
  type NodeServer,
} from '@sse/test-utils'
import { Hono } from 'hono'
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

test('the handler gets the context, with typed route params', async () => {
  const app = new Hono<{ Variables: { user: string } }>()
  app.use(async (c, next) => {
    c.set('user', 'ada')
    await next()
  })
  app.get('/rooms/:id', (c) =>
    sse(c, (session) => {
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
  app.get('/', (c) => sse(c, (session) => session.send('hi'), { headers: { 'set-cookie': 'b=2' } }))
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
  app.get('/', (c) => sse(c, (session) => session.send('hi')))
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

test("a handler that throws synchronously becomes Hono's error response", async () => {
  const errors: unknown[] = []
  const app = new Hono()
    .get('/', (c) =>
      sse(c, () => {
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
})

test('with onError, a synchronous throw reaches it like a rejection and ends the stream', async () => {
  const errors: unknown[] = []
  const app = new Hono().get('/', (c) =>
    sse(
      c,
      (session) => {
        session.send('before')
        throw new Error('now')
      },
      { onError: (error) => errors.push(error) },
    ),
  )
  const capture = await fetchEvents(await serve(app))
  expect(capture.status).toBe(200)
  expect(capture.events.map((event) => event.data)).toEqual(['before'])
  expect(errors).toEqual([new Error('now')])
})

test('an async handler that rejects closes the stream and reaches onError', async () => {
  const errors: unknown[] = []
  const app = new Hono().get('/', (c) =>
    sse(c, async () => Promise.reject(new Error('later')), {
      onError: (error) => errors.push(error),
    }),
  )
  const capture = await fetchEvents(await serve(app))
  expect(capture.status).toBe(200)
  expect(capture.events).toEqual([])
  expect(errors).toEqual([new Error('later')])
})
