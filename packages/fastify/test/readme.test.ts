import { fileURLToPath } from 'node:url'
import { type Hub, readEvents } from '@sse/core'
import { readmeExamples, runAsCommonJs } from '@sse/test-utils/docs'
import { expectGracefulShutdown } from '@sse/test-utils/shutdown'
import type { FastifyInstance } from 'fastify'
import { afterAll, expect, test } from 'vitest'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const examples = readmeExamples(packageDir)
const example = (file: string) => examples.find((e) => e.file === file)!
process.env.PORT = '0'
const apps: FastifyInstance[] = []
afterAll(async () => {
  for (const app of apps) await app.close()
})

test('every README code block is an example file; the install line names what they import', () => {
  expect(examples.map((e) => e.file)).toEqual([
    'examples/news.ts',
    'examples/ticks.ts',
    'examples/shutdown.ts',
  ])
})

test('examples/news.ts (ESM): sse() on /news and reply.sse() on /rooms/:id stream their topics', async () => {
  const news = (await import('../examples/news')) as {
    app: FastifyInstance
    hub: Hub
    listening: Promise<string>
  }
  apps.push(news.app)
  await news.listening
  const { port } = news.app.server.address() as { port: number }
  const url = `http://127.0.0.1:${port}`
  const feed = readEvents(`${url}/news`, { count: 1 })
  const room = readEvents(`${url}/rooms/7`, { count: 1 })
  await expect.poll(() => news.hub.size).toBe(2)
  await news.hub.publish('rooms/8', 'not for room 7')
  await news.hub.publish('rooms/7', 'room 7')
  await news.hub.publish('news', 'news')
  expect((await feed).map((e) => e.data)).toEqual(['news'])
  expect((await room).map((e) => e.data)).toEqual(['room 7'])
})

test('examples/news.ts (CommonJS, the built package): no top-level await, it loads with require and streams', async () => {
  const seen = await runAsCommonJs(packageDir, example('examples/news.ts'), async (news, req) => {
    const { readEvents } = req('@sse/core')
    await news.listening
    const url = `http://127.0.0.1:${news.app.server.address().port}/rooms/9`
    const pending = readEvents(url, { count: 1 })
    while (news.hub.size === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    await news.hub.publish('rooms/9', 'room 9')
    const events = await pending
    await news.app.close()
    return events.map((event: { data: string }) => event.data)
  })
  expect(seen).toEqual(['room 9'])
})

test('examples/ticks.ts (ESM): three ticks, then the failure ends the stream and reaches onError', async () => {
  const { app, failures } = await import('../examples/ticks')
  apps.push(app)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const events = await readEvents(`http://127.0.0.1:${port}/ticks`, { timeout: 5000 })
  expect(events.map((event) => event.data)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}'])
  expect(failures).toEqual([new Error('the tick source failed')])
})

test('examples/ticks.ts (CommonJS): the same through require', async () => {
  const seen = await runAsCommonJs(packageDir, example('examples/ticks.ts'), async (ticks, req) => {
    const { readEvents } = req('@sse/core')
    await ticks.app.listen({ host: '127.0.0.1', port: 0 })
    const url = `http://127.0.0.1:${ticks.app.server.address().port}/ticks`
    const events = await readEvents(url, { timeout: 5000 })
    await ticks.app.close()
    return [events.length, ticks.failures.map((error: Error) => error.message)]
  })
  expect(seen).toEqual([3, ['the tick source failed']])
})

test('examples/shutdown.ts: on SIGTERM every stream gets a retry hint, the closes spread over the window, and the process exits', async () => {
  await expectGracefulShutdown(packageDir, 'examples/shutdown.ts')
}, 30_000)
