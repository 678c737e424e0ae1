import type { Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { type Hub, readEvents } from '@sse/core'
import { exampleUrl, readmeExamples, runAsCommonJs } from '@sse/test-utils/docs'
import { expectGracefulShutdown } from '@sse/test-utils/shutdown'
import { expect, test } from 'vitest'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const examples = readmeExamples(packageDir)
process.env.PORT = '0'

test('every README code block is an example file; the install line names what they import', () => {
  expect(examples.map((e) => e.file)).toEqual(['examples/news.ts', 'examples/shutdown.ts'])
})

test('examples/news.ts (ESM): /news for everyone, /me for the user in ctx.state, CORS kept', async () => {
  const news = (await import('../examples/news')) as { hub: Hub; server: Server }
  const url = await exampleUrl(news.server)
  const init = { headers: { 'x-user-id': 'ada', origin: 'https://app.example' } }
  const feed = readEvents(`${url}/news`, { count: 1 })
  const mine = readEvents(`${url}/me`, { count: 1, init })
  await expect.poll(() => news.hub.size).toBe(2)
  await news.hub.publish('users/bob', 'not for ada')
  await news.hub.publish('users/ada', 'for ada')
  await news.hub.publish('news', 'for everyone')
  expect((await feed).map((e) => e.data)).toEqual(['for everyone'])
  expect((await mine).map((e) => e.data)).toEqual(['for ada'])
  const head = await fetch(`${url}/news`, init)
  expect(head.headers.get('access-control-allow-origin')).toBe('https://app.example')
  await head.body?.cancel()
})

test('examples/news.ts (CommonJS, the built package): the same through require', async () => {
  const seen = await runAsCommonJs(packageDir, examples[0]!, async (news, req) => {
    const { once } = req('node:events')
    const { readEvents } = req('@sse/core')
    if (!news.server.listening) await once(news.server, 'listening')
    const url = `http://127.0.0.1:${news.server.address().port}/me`
    const pending = readEvents(url, { count: 1, init: { headers: { 'x-user-id': 'cy' } } })
    while (news.hub.size === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    await news.hub.publish('users/cy', 'for cy')
    return (await pending).map((event: { data: string }) => event.data)
  })
  expect(seen).toEqual(['for cy'])
})

test('examples/shutdown.ts: on SIGTERM every stream gets a retry hint, the closes spread over the window, and the process exits', async () => {
  await expectGracefulShutdown(packageDir, 'examples/shutdown.ts')
}, 30_000)
