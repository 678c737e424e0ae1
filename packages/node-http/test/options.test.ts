import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSession } from '@sse/node-http'
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const response = await fetch(`http://127.0.0.1:${port}/`)
  expect(response.status).toBe(500)
  expect(await response.text()).toBe('bad options')
  expect(thrown).toBeInstanceOf(TypeError)
  // The error page carries none of the event-stream headers.
  expect(leaked).toEqual([])
  expect(response.headers.get('cache-control')).toBeNull()
  server.close()
})

test('with retry: false the head is still sent at once (the client sees the stream open)', async () => {
  const server = http.createServer((req, res) => {
    createSession(req, res, { retry: false, heartbeat: false })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const controller = new AbortController()
  const response = await fetch(`http://127.0.0.1:${port}/`, { signal: controller.signal })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
  controller.abort()
  server.closeAllConnections()
  server.close()
})
