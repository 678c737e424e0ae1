import http from 'node:http'
import { type Session, sse } from '@sse/express'
import { fetchEvents, type ListeningServer, listen } from '@sse/test-utils'
import express, { type ErrorRequestHandler, type Express } from 'express'
import { afterEach, expect, test } from 'vitest'

const servers: ListeningServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

/** Serves `app` on 127.0.0.1:0, with an error handler that records what reaches it. */
async function serve(app: Express): Promise<{ url: string; errors: unknown[] }> {
  const errors: unknown[] = []
  const onError: ErrorRequestHandler = (error, _req, res, next) => {
    errors.push(error)
    if (res.headersSent) return next(error)
    res.status(500).send('handled')
  }
  app.use(onError)
  app.set('env', 'test') // keeps Express's default handler from logging
  const server = await listen(http.createServer(app))
  servers.push(server)
  return { url: server.url, errors }
}

test('route params are typed through the generic; headers from res.set() and options both arrive', async () => {
  const app = express()
  app.use((_req, res, next) => {
    res.set('x-request-id', 'abc')
    next()
  })
  app.get(
    '/rooms/:id',
    sse<{ id: string }>((session, { req }) => session.send(req.params.id satisfies string), {
      headers: { 'x-stream': 'rooms' },
    }),
  )
  const { url } = await serve(app)
  const capture = await fetchEvents(`${url}/rooms/42`, { until: (c) => c.events.length === 1 })
  expect(capture.events[0]?.data).toBe('42')
  expect(capture.headers['x-request-id']).toBe('abc')
  expect(capture.headers['x-stream']).toBe('rooms')
  expect(capture.headers['content-type']).toBe('text/event-stream; charset=utf-8')
})

test('invalid options are a TypeError when the route is defined, not at its first request', () => {
  expect(() => sse(() => undefined, { heartbeat: -1 })).toThrow(TypeError)
  expect(() => sse('handler' as never)).toThrow(TypeError)
})

test('without onError, a handler failure closes the session (reason error) and reaches Express error handling', async () => {
  const sessions: Session[] = []
  const app = express()
  app.get(
    '/events',
    sse(async (session) => {
      sessions.push(session)
      session.send('before')
      throw new Error('late')
    }),
  )
  const { url, errors } = await serve(app)
  // Express's default handler destroys the socket of a response already sent.
  await fetchEvents(`${url}/events`).catch(() => undefined)
  await expect.poll(() => errors).toEqual([new Error('late')])
  expect(sessions[0]?.closeReason).toBe('error')
  expect(sessions[0]?.closeCause).toEqual(new Error('late'))
})

test('an onError that throws ends in Express error handling, not an unhandled rejection', async () => {
  const app = express()
  app.get(
    '/events',
    sse(() => Promise.reject(new Error('first')), {
      onError: () => {
        throw new Error('from onError')
      },
    }),
  )
  const { url, errors } = await serve(app)
  await fetchEvents(`${url}/events`).catch(() => undefined)
  await expect.poll(() => errors).toEqual([new Error('from onError')])
})
