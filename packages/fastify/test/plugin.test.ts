import { Writable } from 'node:stream'
import { createConnectionLimiter, type Session } from '@sse/core'
import { fastifySse, sse } from '@sse/fastify'
import { fetchEvents } from '@sse/test-utils'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, expect, test } from 'vitest'

let app: FastifyInstance | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

async function listen(instance: FastifyInstance): Promise<string> {
  app = instance
  await instance.listen({ host: '127.0.0.1', port: 0 })
  const { port } = instance.server.address() as { port: number }
  return `http://127.0.0.1:${port}`
}

test('reply.sse() is visible in routes of a sibling plugin, with the registered defaults', async () => {
  const instance = Fastify()
  await instance.register(fastifySse, { retry: 4321, heartbeat: false })
  await instance.register(async (scoped) => {
    scoped.get('/events', (_request, reply) => {
      reply.sse()!.send('scoped')
    })
  })
  const capture = await fetchEvents(`${await listen(instance)}/events`, {
    until: (c) => c.events.length >= 1,
  })
  expect(capture.retries).toEqual([4321])
  expect(capture.events.map((e) => e.data)).toEqual(['scoped'])
})

test('reply.header() set before reply.sse() reaches the client; the status is always 200', async () => {
  const instance = Fastify()
  await instance.register(fastifySse, { headers: { 'x-default': 'yes' } })
  instance.get('/events', (_request, reply) => {
    reply.code(201).header('x-early', 'yes')
    reply.sse({ headers: { 'x-option': 'yes' } })!.send('hi')
  })
  const capture = await fetchEvents(`${await listen(instance)}/events`, {
    until: (c) => c.events.length >= 1,
  })
  expect(capture.status).toBe(200)
  expect(capture.headers['x-default']).toBe('yes')
  expect(capture.headers['x-early']).toBe('yes')
  expect(capture.headers['x-option']).toBe('yes')
  expect(capture.headers['content-type']).toBe('text/event-stream; charset=utf-8')
})

test('app.close() ends open streams instead of waiting for them forever', async () => {
  // Fastify's default forceCloseConnections ('idle') leaves busy sockets alone.
  const instance = Fastify()
  await instance.register(fastifySse)
  instance.get('/events', (_request, reply) => {
    reply.sse({ heartbeat: false })!.send('open')
  })
  const response = await fetch(`${await listen(instance)}/events`)
  const reader = response.body!.getReader()
  await reader.read()
  const closing = instance.close()
  app = undefined
  let ended = false
  while (!ended) ended = (await reader.read()).done
  await closing
  expect(ended).toBe(true)
})

/** A Fastify app whose error log lines (pino JSON) are collected. */
function loggedApp(): {
  instance: FastifyInstance
  logged: Array<{ msg: string; err?: { message: string } }>
} {
  const logged: Array<{ msg: string; err?: { message: string } }> = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logged.push(JSON.parse(String(chunk)))
      done()
    },
  })
  return { instance: Fastify({ logger: { level: 'error', stream } }), logged }
}

test('without onError, a handler failure closes the stream and is logged with request.log.error', async () => {
  const { instance, logged } = loggedApp()
  await instance.register(fastifySse, { heartbeat: false })
  const sessions: Session[] = []
  instance.get(
    '/fails',
    sse(async (session) => {
      sessions.push(session)
      session.send('before')
      throw new Error('late')
    }),
  )
  // Reads to the end: the stream is closed, not left open.
  const capture = await fetchEvents(`${await listen(instance)}/fails`)
  expect(capture.events.map((e) => e.data)).toEqual(['before'])
  await expect.poll(() => logged.map((line) => line.err?.message)).toEqual(['late'])
  expect(logged[0]!.msg).toBe('@sse/fastify: the stream handler failed')
  expect(sessions[0]!.closeReason).toBe('error')
})

test('an onError that throws is logged too, never an unhandled rejection', async () => {
  const { instance, logged } = loggedApp()
  await instance.register(fastifySse, { heartbeat: false })
  instance.get(
    '/fails',
    sse(() => Promise.reject(new Error('first')), {
      onError: () => {
        throw new Error('from onError')
      },
    }),
  )
  await fetchEvents(`${await listen(instance)}/fails`)
  await expect.poll(() => logged.map((line) => line.err?.message)).toEqual(['from onError'])
})

test('misuse is a TypeError at startup: bad route options at sse(), bad defaults at register', async () => {
  expect(() => sse(() => undefined, { heartbeat: -1 })).toThrow(TypeError)
  expect(() => sse(undefined as never)).toThrow(/handler/)
  const instance = Fastify()
  await expect(instance.register(fastifySse, { retry: -1 })).rejects.toThrow(TypeError)
})

test('sse() on an app without the plugin answers 500 naming the fix', async () => {
  const instance = Fastify()
  instance.get(
    '/events',
    sse(() => undefined),
  )
  const response = await fetch(`${await listen(instance)}/events`)
  expect(response.status).toBe(500)
  expect((await response.json()).message).toMatch(/register the plugin/)
})

test('reply.sse() over the limit returns undefined and the reply is a 429 with the hooks headers', async () => {
  const instance = Fastify()
  const limiter = createConnectionLimiter({ max: 1, retryAfter: 9 })
  await instance.register(fastifySse, { heartbeat: false, limit: { limiter } })
  instance.addHook('onRequest', async (_request, reply) => {
    reply.header('x-hook', 'kept')
  })
  const results: string[] = []
  instance.get('/events', (_request, reply) => {
    const session = reply.sse()
    results.push(session === undefined ? 'refused' : 'open')
    return reply
  })
  const url = `${await listen(instance)}/events`
  const held = new AbortController()
  const first = await fetch(url, { signal: held.signal })
  const second = await fetch(url)
  expect([first.status, second.status]).toEqual([200, 429])
  expect(second.headers.get('retry-after')).toBe('9')
  expect(second.headers.get('x-hook')).toBe('kept')
  expect(results).toEqual(['open', 'refused'])
  held.abort()
})
