import http from 'node:http'
import { createSession } from '@sse/node-http'
import { listen } from '@sse/test-utils'
import { expect, test } from 'vitest'

test('invalid options throw before the head is sent, so the server can still answer 500', async () => {
  let thrown: unknown
  let leaked: string[] = []
  const server = http.createServer((req, res) => {
    try {
      createSession(req, res, { heartbeat: -1 })
    } catch (error) {
      thrown = error
      res.writeHead(500, { 'content-type': 'text/plain' }).end('bad options')
      leaked = ['cache-control', 'x-accel-buffering', 'connection'].filter(
        (name) => res.getHeader(name) !== undefined,
      )
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
  const server = http.createServer((req, res) => {
    createSession(req, res, { retry: false, heartbeat: false })
  })
  const { url, close } = await listen(server)
  const controller = new AbortController()
  const response = await fetch(`${url}/`, { signal: controller.signal })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
  controller.abort()
  await close()
})
