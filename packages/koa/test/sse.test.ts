import http from 'node:http'
import { type Session, type SseOptions, sse } from '@sse/koa'
import { failingHandlers, fetchEvents, type ListeningServer, listen } from '@sse/test-utils'
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
    // Runs once the handler settled: a logger sees the stream's real status.
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

test('invalid options are thrown while Koa can still answer 500', async () => {
  const app = new Koa()
  app.use(sse(() => undefined, { heartbeat: -1 }))
  const { url, errors } = await serve(app)
  const response = await fetch(url)
  expect(response.status).toBe(500)
  expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8')
  expect(errors).toEqual([expect.any(TypeError)])
})

for (const [kind, handler] of failingHandlers) {
  test(`a handler that ${kind} after the stream opened closes it and goes to onError`, async () => {
    const reported: unknown[] = []
    const options: SseOptions = {
      heartbeat: false,
      onError: (error, ctx) => reported.push(error, ctx.path),
    }
    const sessions: Session[] = []
    const app = new Koa()
    app.use(
      sse((session) => {
        sessions.push(session)
        return handler(session)
      }, options),
    )
    const { url, errors } = await serve(app)
    // No `until`: reads until the server ends the stream.
    const capture = await fetchEvents(`${url}/events`)
    expect(capture.events.map((e) => e.data)).toEqual(['before'])
    expect(sessions[0]?.closed).toBe(true)
    expect(reported).toEqual([new Error('boom'), '/events'])
    expect(errors).toEqual([])
  })
}

test('without onError, a failure after the stream opened travels Koa error handling', async () => {
  const app = new Koa()
  const caught: unknown[] = []
  app.use(async (ctx, next) => {
    try {
      await next()
    } catch (error) {
      caught.push(error)
      // What error middleware usually does; Koa ignores it once headers are sent.
      ctx.status = 500
      ctx.body = 'too late'
      throw error
    }
  })
  app.use(
    sse(async (session) => {
      session.send('before')
      throw new Error('late')
    }),
  )
  const { url, errors } = await serve(app)
  const capture = await fetchEvents(url)
  expect(capture.status).toBe(200)
  expect(capture.events.map((e) => e.data)).toEqual(['before'])
  await expect.poll(() => errors.length).toBe(1)
  // The same error, seen by the upstream middleware, then by Koa (`ctx.onerror`).
  expect(caught).toEqual([errors[0]])
  expect(errors[0]).toMatchObject({ message: 'late', headerSent: true })
})
