import type { Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { type Hub, readEvents } from '@sse/core'
import { exampleUrl, readmeExamples, runAsCommonJs } from '@sse/test-utils/docs'
import { expectGracefulShutdown } from '@sse/test-utils/shutdown'
import type { Hono } from 'hono'
import { expect, test } from 'vitest'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const examples = readmeExamples(packageDir)
const example = (file: string) => examples.find((e) => e.file === file)!
process.env.PORT = '0'

test('every README code block is an example file; the install line names what they import', () => {
  expect(examples.map((e) => e.file)).toEqual([
    'examples/rooms.ts',
    'examples/shutdown.ts',
    'examples/node.ts',
    'examples/clock.ts',
  ])
})

test('examples/rooms.ts (ESM) on @hono/node-server: POST to a room reaches that room only', async () => {
  const rooms = (await import('../examples/rooms')) as { hub: Hub; server: Server }
  const url = await exampleUrl(rooms.server)
  const seven = readEvents(`${url}/rooms/7`, { count: 1 })
  await expect.poll(() => rooms.hub.size).toBe(1)
  expect((await fetch(`${url}/rooms/8`, { method: 'POST', body: 'to 8' })).status).toBe(204)
  expect((await fetch(`${url}/rooms/7`, { method: 'POST', body: 'to 7' })).status).toBe(204)
  expect((await seven).map((e) => e.data)).toEqual(['to 7'])
})

test('examples/rooms.ts (CommonJS, the built package): it loads with require and streams', async () => {
  const seen = await runAsCommonJs(packageDir, example('examples/rooms.ts'), async (rooms, req) => {
    const { once } = req('node:events')
    const { readEvents } = req('@sse/core')
    if (!rooms.server.listening) await once(rooms.server, 'listening')
    const url = `http://127.0.0.1:${rooms.server.address().port}/rooms/1`
    const pending = readEvents(url, { count: 1 })
    while (rooms.hub.size === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    await fetch(url, { method: 'POST', body: 'hello' })
    return (await pending).map((event: { data: string }) => event.data)
  })
  expect(seen).toEqual(['hello'])
})

test('examples/clock.ts (ESM and CommonJS): the default export answers fetch with ticks', async () => {
  const { default: app } = (await import('../examples/clock')) as { default: Hono }
  const controller = new AbortController()
  const response = await app.fetch(
    new Request('http://localhost/clock', { signal: controller.signal }),
  )
  const ticks = await readEvents(response, { count: 2 })
  controller.abort()
  expect(ticks.map((e) => e.type)).toEqual(['tick', 'tick'])
  const viaRequire = await runAsCommonJs(
    packageDir,
    example('examples/clock.ts'),
    async (clock, req) => {
      const { readEvents } = req('@sse/core')
      const response = await clock.default.fetch(new Request('http://localhost/clock'))
      const events = await readEvents(response, { count: 1 })
      return events.map((event: { type: string }) => event.type)
    },
  )
  expect(viaRequire).toEqual(['tick'])
})

test('examples/shutdown.ts: on SIGTERM every stream gets a retry hint, the closes spread over the window, and the process exits', async () => {
  await expectGracefulShutdown(packageDir, 'examples/shutdown.ts')
}, 30_000)

test('examples/node.ts: on @hono/node-server the stream is written to the Node response; app.request() gets the Web stream', async () => {
  const ticker = (await import('../examples/node')) as { hub: Hub; server: Server; app: Hono }
  const url = await exampleUrl(ticker.server)
  const overNode = readEvents(`${url}/ticker`, { count: 1 })
  await expect.poll(() => ticker.hub.size).toBe(1)
  await ticker.hub.publish('ticker', 'over node')
  expect((await overNode).map((e) => e.data)).toEqual(['over node'])
  await expect.poll(() => ticker.hub.size).toBe(0)

  // No Node response in c.env: the Web binding answers.
  const response = await ticker.app.request('/ticker')
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
  expect(response.headers.get('x-hono-already-sent')).toBeNull()
  await expect.poll(() => ticker.hub.size).toBe(1)
  await ticker.hub.publish('ticker', 'over the web')
  expect((await readEvents(response, { count: 1 })).map((e) => e.data)).toEqual(['over the web'])
  ticker.hub.close()
  ticker.server.close()
})
