import http from 'node:http'
import { createResponse, readEvents, SseError } from '@sse/core'
import { afterAll, beforeAll, expect, test } from 'vitest'

let server: http.Server
let url: string
const open = new Set<http.ServerResponse>()

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const path = req.url ?? '/'
    if (path === '/not-sse') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('hello')
      return
    }
    if (path === '/missing') {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    open.add(res)
    res.on('close', () => open.delete(res))
    const last = req.headers['last-event-id']
    // Five events in one chunk, then nothing: the stream stays open.
    res.write(
      ['a', 'b', 'c', 'd', 'e'].map((d) => `id: ${d}\ndata: ${d}${last ?? ''}\n\n`).join(''),
    )
    if (path === '/ends') res.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

test('reads exactly `count` events from a URL, then closes the stream', async () => {
  const events = await readEvents(`${url}/events`, { count: 3 })
  expect(events.map((e) => e.data)).toEqual(['a', 'b', 'c'])
  expect(events[2]).toMatchObject({ type: 'message', lastEventId: 'c' })
  await expect.poll(() => open.size).toBe(0)
})

test('`until` stops at the first event that satisfies it, even mid-chunk', async () => {
  const events = await readEvents(`${url}/events`, { until: (seen) => seen.at(-1)?.data === 'b' })
  expect(events.map((e) => e.data)).toEqual(['a', 'b'])
})

test('fetch options reach the server (a Last-Event-ID header)', async () => {
  const events = await readEvents(`${url}/events`, {
    count: 1,
    init: { headers: { 'last-event-id': '!' } },
  })
  expect(events[0]!.data).toBe('a!')
})

test('a stream that ends early resolves with what it sent', async () => {
  const events = await readEvents(`${url}/ends`, { count: 10 })
  expect(events).toHaveLength(5)
})

test('waiting too long rejects with SSE_TIMEOUT and closes the stream', async () => {
  const error = await readEvents(`${url}/events`, { count: 6, timeout: 200 }).catch((e) => e)
  expect(error).toBeInstanceOf(SseError)
  expect(error).toMatchObject({ code: 'SSE_TIMEOUT', message: expect.stringMatching(/5 of 6/) })
  await expect.poll(() => open.size).toBe(0)
})

test('a response that is not an event stream rejects with SSE_INVALID_RESPONSE and its status', async () => {
  await expect(readEvents(`${url}/not-sse`)).rejects.toMatchObject({
    code: 'SSE_INVALID_RESPONSE',
    status: 200,
  })
  await expect(readEvents(`${url}/missing`)).rejects.toMatchObject({
    code: 'SSE_INVALID_RESPONSE',
    status: 404,
  })
})

test('takes a Response too, such as one from createResponse', async () => {
  const response = createResponse(new Request('http://localhost/'), (session) => {
    session.send('one')
    session.send('two', { event: 'second' })
  })
  const events = await readEvents(response, { count: 2 })
  expect(events).toMatchObject([
    { type: 'message', data: 'one' },
    { type: 'second', data: 'two' },
  ])
})

test('misuse is a TypeError at the call', () => {
  expect(() => readEvents(url, { count: -1 })).toThrow(TypeError)
  expect(() => readEvents(url, { timeout: 0 })).toThrow(TypeError)
})
