import http from 'node:http'
import { openSession, sse } from '@sse/node-http'
import { listen } from '@sse/test-utils'
import { expect, test } from 'vitest'

test('invalid options are a TypeError from sse() itself, when the route is defined', () => {
  expect(() => sse(() => undefined, { heartbeat: -1 })).toThrow(TypeError)
  expect(() => sse(() => undefined, { maxQueueBytes: 0 })).toThrow(/maxQueueBytes/)
  expect(() => sse(undefined as never)).toThrow(/handler/)
})

test('openSession with invalid options throws before touching the response: the server can still answer 500', async () => {
  let thrown: unknown
  let leaked: string[] = []
  const server = http.createServer((req, res) => {
    try {
      openSession(req, res, { heartbeat: -1 })
    } catch (error) {
      thrown = error
      leaked = ['content-type', 'cache-control', 'x-accel-buffering', 'connection'].filter(
        (name) => res.getHeader(name) !== undefined,
      )
      res.writeHead(500, { 'content-type': 'text/plain' }).end('bad options')
    }
  })
  const { url, close } = await listen(server)
  const response = await fetch(`${url}/`)
  expect(response.status).toBe(500)
  expect(await response.text()).toBe('bad options')
  expect(thrown).toBeInstanceOf(TypeError)
  // The error page carries none of the event-stream headers.
  expect(leaked).toEqual([])
  expect(response.headers.get('cache-control')).toBeNull()
  await close()
})

test('with retry: false the head is still sent at once (the client sees the stream open)', async () => {
  const server = http.createServer(sse(() => undefined, { retry: false, heartbeat: false }))
  const { url, close } = await listen(server)
  const controller = new AbortController()
  const response = await fetch(`${url}/`, { signal: controller.signal })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
  controller.abort()
  await close()
})

test('without onError a throwing handler is rethrown from the listener, as from any listener; the stream is closed first', async () => {
  const server = http.createServer()
  const thrown: unknown[] = []
  const listener = sse((session) => {
    session.send('before')
    throw new Error('boom')
  })
  server.on('request', (req, res) => {
    try {
      listener(req, res)
    } catch (error) {
      thrown.push(error)
    }
  })
  const { url, close } = await listen(server)
  const response = await fetch(`${url}/`)
  expect(await response.text()).toBe('retry: 2000\ndata: before\n\n')
  expect(thrown).toEqual([new Error('boom')])
  await close()
})
