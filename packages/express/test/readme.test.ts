import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { type Hub, readEvents } from '@sse/core'
import { exampleUrl, readmeExamples, runAsCommonJs } from '@sse/test-utils/docs'
import { expectGracefulShutdown } from '@sse/test-utils/shutdown'
import type { Express } from 'express'
import { afterAll, expect, test } from 'vitest'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const examples = readmeExamples(packageDir)
const example = (file: string) => examples.find((e) => e.file === file)!
const servers: Server[] = []
process.env.PORT = '0'

afterAll(() => {
  for (const server of servers) {
    server.closeAllConnections()
    server.close()
  }
})

test('every README code block is an example file; the install line names what they import', () => {
  expect(examples.map((e) => e.file)).toEqual([
    'examples/news.ts',
    'examples/chat.ts',
    'examples/shutdown.ts',
    'examples/limits.ts',
  ])
})

test('examples/news.ts (ESM): /news and /rooms/:id stream their own topics', async () => {
  const { hub, server } = (await import('../examples/news')) as { hub: Hub; server: Server }
  const url = await exampleUrl(server)
  const news = readEvents(`${url}/news`, { count: 1, timeout: 5000 })
  const room = readEvents(`${url}/rooms/7`, { count: 1, timeout: 5000 })
  await expect.poll(() => hub.size).toBe(2)
  await hub.publish('rooms/8', 'not for room 7')
  await hub.publish('news', 'extra!')
  await hub.publish('rooms/7', 'hello room 7')
  expect((await news).map((e) => e.data)).toEqual(['extra!'])
  expect((await room).map((e) => e.data)).toEqual(['hello room 7'])
})

test('examples/news.ts (CommonJS, the built package): it loads with require and streams', async () => {
  const seen = await runAsCommonJs(packageDir, example('examples/news.ts'), async (news, req) => {
    const { once } = req('node:events')
    const { readEvents } = req('@sse/core')
    if (!news.server.listening) await once(news.server, 'listening')
    const pending = readEvents(`http://127.0.0.1:${news.server.address().port}/rooms/7`, {
      count: 1,
      timeout: 5000,
    })
    while (news.hub.size === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    await news.hub.publish('rooms/7', 'hello room 7')
    return (await pending).map((event: { data: string }) => event.data)
  })
  expect(seen).toEqual(['hello room 7'])
})

async function thirdOfOneUser(app: Express): Promise<number[]> {
  const server = app.listen(0, '127.0.0.1')
  servers.push(server)
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feed`
  const as = (user: string) => fetch(url, { headers: { 'x-user-id': user } })
  const first = await as('ann')
  const second = await as('ann')
  const third = await as('ann')
  const bob = await as('bob')
  expect(third.headers.get('retry-after')).toBe('10')
  for (const response of [first, second, third, bob]) await response.body?.cancel()
  return [first.status, second.status, third.status, bob.status]
}

test('examples/limits.ts (ESM): the third stream of one user is refused with 429, another user gets in', async () => {
  const { app } = await import('../examples/limits')
  expect(await thirdOfOneUser(app)).toEqual([200, 200, 429, 200])
})

test('examples/limits.ts (CommonJS): it loads with require and limits the same way', async () => {
  const statuses = await runAsCommonJs(
    packageDir,
    example('examples/limits.ts'),
    async (limits) => {
      const server = limits.app.listen(0, '127.0.0.1')
      await new Promise((resolve) => server.once('listening', resolve))
      const url = `http://127.0.0.1:${server.address().port}/feed`
      const as = (user: string) => fetch(url, { headers: { 'x-user-id': user } })
      const responses = [await as('ann'), await as('ann'), await as('ann'), await as('bob')]
      for (const response of responses) await response.body?.cancel()
      return responses.map((response) => response.status)
    },
  )
  expect(statuses).toEqual([200, 200, 429, 200])
})

test('examples/chat.ts (ESM and CommonJS): POST /chat streams the tokens, then ends', async () => {
  const { app } = await import('../examples/chat')
  const server = app.listen(0, '127.0.0.1')
  servers.push(server)
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/chat`
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'hi there' }),
  }
  const events = await readEvents(url, { init, timeout: 5000 })
  expect(events.map((e) => [e.type, e.data])).toEqual([
    ['token', 'You'],
    ['token', 'said:'],
    ['token', 'hi'],
    ['token', 'there'],
  ])
  const viaRequire = await runAsCommonJs(
    packageDir,
    example('examples/chat.ts'),
    async (chat, req) => {
      const { readEvents } = req('@sse/core')
      const server = chat.app.listen(0, '127.0.0.1')
      await new Promise((resolve) => server.once('listening', resolve))
      const events = await readEvents(`http://127.0.0.1:${server.address().port}/chat`, {
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"prompt":"ok"}',
        },
      })
      return events.map((event: { data: string }) => event.data)
    },
  )
  expect(viaRequire).toEqual(['You', 'said:', 'ok'])
})

test('examples/shutdown.ts: on SIGTERM every stream gets a retry hint, the closes spread over the window, and the process exits', async () => {
  await expectGracefulShutdown(packageDir, 'examples/shutdown.ts')
}, 30_000)
