import http from 'node:http'
import { type Session, sse } from '@sse/koa'
import { fetchEvents, type ListeningServer, listen } from '@sse/test-utils'
import Koa from 'koa'
import { afterEach, expect, test } from 'vitest'

const servers: ListeningServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

/** Serves `app` on 127.0.0.1:0 and records what Koa reports as app errors. */
async function serve<StateT>(app: Koa<StateT>): Promise<{ url: string; errors: unknown[] }> {
  const errors: unknown[] = []
  app.on('error', (error) => errors.push(error))
  const server = await listen(http.createServer(app.callback()))
  servers.push(server)
  return { url: server.url, errors }
}

test('ctx.state is typed; headers from ctx.set() and options arrive with status 200', async () => {
  const app = new Koa<{ user: string }>()
  const seen: number[] = []
  app.use(async (ctx, next) => {
    ctx.set('x-request-id', 'abc')
    ctx.state.user = 'ada'
    await next()
    // Runs once the stream is open: a logger sees the stream's real status.
    seen.push(ctx.status)
  })
  app.use(
    sse((session, ctx) => session.send(ctx.state.user satisfies string), {
      headers: { 'x-stream': 'users' },
    }),
  )
  const { url } = await serve(app)
  const capture = await fetchEvents(url, { until: (c) => c.events.length === 1 })
  expect(capture.status).toBe(200)
  expect(capture.events[0]?.data).toBe('ada')
  expect(capture.headers['x-request-id']).toBe('abc')
  expect(capture.headers['x-stream']).toBe('users')
  expect(capture.headers['content-type']).toBe('text/event-stream; charset=utf-8')
  await expect.poll(() => seen).toEqual([200])
})

test('invalid options are a TypeError when the middleware is created, not at its first request', () => {
  expect(() => sse(() => undefined, { heartbeat: -1 })).toThrow(TypeError)
  expect(() => sse(() => undefined, { onError: 42 as never })).toThrow(/onError/)
})

test('without onError, a handler failure closes the session (reason error) and reaches the app error event with ctx', async () => {
  const app = new Koa()
  const sessions: Session[] = []
  app.use(
    sse(async (session) => {
      sessions.push(session)
      session.send('before')
      throw new Error('late')
    }),
  )
  const contexts: unknown[] = []
  app.on('error', (_error, ctx) => contexts.push(ctx?.path))
  const { url, errors } = await serve(app)
  const capture = await fetchEvents(`${url}/feed`)
  expect(capture.status).toBe(200)
  expect(capture.events.map((e) => e.data)).toEqual(['before'])
  await expect.poll(() => errors).toEqual([new Error('late')])
  expect(contexts).toEqual(['/feed'])
  expect(sessions[0]?.closeReason).toBe('error')
  expect(sessions[0]?.closeCause).toEqual(new Error('late'))
})

test('an onError that throws ends in the app error event, not an unhandled rejection', async () => {
  const app = new Koa()
  app.use(
    sse(() => Promise.reject(new Error('first')), {
      onError: () => {
        throw new Error('from onError')
      },
    }),
  )
  const { url, errors } = await serve(app)
  await fetchEvents(url)
  await expect.poll(() => errors).toEqual([new Error('from onError')])
})
