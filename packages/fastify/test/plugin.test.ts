import type { Session } from '@sse/core'
import { fastifySse, sse } from '@sse/fastify'
import { failingHandlers, fetchEvents } from '@sse/test-utils'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
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
      reply.sse().send('scoped')
    })
  })
  const capture = await fetchEvents(`${await listen(instance)}/events`, {
    until: (c) => c.events.length >= 1,
  })
  expect(capture.retries).toEqual([4321])
  expect(capture.events.map((e) => e.data)).toEqual(['scoped'])
})

test('reply.code() and reply.header() set before reply.sse() reach the client', async () => {
  const instance = Fastify()
  await instance.register(fastifySse)
  instance.get('/events', (_request, reply) => {
    reply.code(201).header('x-early', 'yes')
    reply.sse({ headers: { 'x-option': 'yes' } }).send('hi')
  })
  const capture = await fetchEvents(`${await listen(instance)}/events`, {
    until: (c) => c.events.length >= 1,
  })
  expect(capture.status).toBe(201)
  expect(capture.headers['x-early']).toBe('yes')
  expect(capture.headers['x-option']).toBe('yes')
  expect(capture.headers['content-type']).toBe('text/event-stream; charset=utf-8')
})

test('app.close() ends open streams instead of waiting for them forever', async () => {
  // Fastify's default forceCloseConnections ('idle') leaves busy sockets alone.
  const instance = Fastify()
  await instance.register(fastifySse)
  instance.get('/events', (_request, reply) => {
    reply.sse({ heartbeat: false }).send('open')
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

test('sse(handler, { onError }): a throw, a rejection and unserializable data close the stream and reach onError', async () => {
  const instance = Fastify()
  await instance.register(fastifySse, { heartbeat: false })
  const errors: Array<[string, unknown]> = []
  const onError = (error: unknown, session: Session, request: FastifyRequest) => {
    expect(session.closed).toBe(true)
    errors.push([request.url, error])
  }
  for (const [name, handler] of failingHandlers) instance.get(`/${name}`, sse(handler, { onError }))
  instance.get(
    '/bad-data',
    sse(
      (session) => {
        session.send('before')
        session.send(10n)
      },
      { onError },
    ),
  )
  const url = await listen(instance)
  for (const path of ['/throws', '/rejects', '/bad-data']) {
    // The stream ends (fetchEvents reads to the end): the client is not left hanging.
    const capture = await fetchEvents(`${url}${path}`, { timeoutMs: 5000 })
    expect(
      capture.events.map((e) => e.data),
      path,
    ).toEqual(['before'])
  }
  expect(errors.map(([path]) => path)).toEqual(['/throws', '/rejects', '/bad-data'])
  expect(errors[2]![1]).toBeInstanceOf(TypeError)
})
