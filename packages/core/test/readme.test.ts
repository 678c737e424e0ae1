// Relative imports of @sse/test-utils: that package depends on @sse/core, so
// core cannot depend on it (see engine-suite.test.ts).
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readEvents } from '@sse/core'
import { expect, test } from 'vitest'
import { readmeExamples, runAsCommonJs } from '../../test-utils/src/docs'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const examples = readmeExamples(packageDir)
const example = (file: string) => examples.find((e) => e.file === file)!

test('every README code block is an example file; the install lines name what they import', () => {
  expect(examples.map((e) => e.file)).toEqual([
    'examples/prices.ts',
    'examples/workers.ts',
    'examples/parse.ts',
    'examples/quotes.ts',
    'examples/topics.ts',
    '../express/test/readme-testing.test.ts',
  ])
})

test('examples/prices.ts (ESM): GET streams what POST publishes', async () => {
  const { GET, POST, hub } = await import('../examples/prices')
  const controller = new AbortController()
  const stream = GET(new Request('http://localhost/prices', { signal: controller.signal }))
  const events = readEvents(stream, { count: 1 })
  await expect.poll(() => hub.size).toBe(1)
  const posted = await POST(
    new Request('http://localhost/prices', { method: 'POST', body: '{"usd":101.5}' }),
  )
  expect(posted.status).toBe(204)
  expect((await events).map((e) => [e.type, e.data])).toEqual([['price', '{"usd":101.5}']])
  controller.abort()
  await expect.poll(() => hub.size).toBe(0)
})

test('examples/prices.ts (CommonJS, the built package): the same through require', async () => {
  const seen = await runAsCommonJs(
    packageDir,
    example('examples/prices.ts'),
    async (prices, req) => {
      const { readEvents } = req('@sse/core')
      const events = readEvents(prices.GET(new Request('http://localhost/prices')), { count: 1 })
      while (prices.hub.size === 0) await new Promise((resolve) => setTimeout(resolve, 5))
      await prices.POST(new Request('http://localhost/', { method: 'POST', body: '{"usd":7}' }))
      return (await events).map((event: { data: string }) => event.data)
    },
  )
  expect(seen).toEqual(['{"usd":7}'])
})

const chunked = (text: string, size: number) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      const bytes = new TextEncoder().encode(text)
      for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size))
      controller.close()
    },
  })

test('examples/parse.ts (ESM): the encoded frame reads back whole, however the bytes are split', async () => {
  const { collect, frame } = await import('../examples/parse')
  expect(frame).toBe('event: update\nid: 7\ndata: line 1\ndata: line 2\n\n')
  for (const size of [1, 3, 64]) {
    const events = await collect(chunked(frame + frame, size))
    expect(events).toEqual([
      { type: 'update', data: 'line 1\nline 2', lastEventId: '7' },
      { type: 'update', data: 'line 1\nline 2', lastEventId: '7' },
    ])
  }
})

test('examples/parse.ts and examples/topics.ts load and work under require', async () => {
  const parsed = await runAsCommonJs(packageDir, example('examples/parse.ts'), async (parse) => {
    const body = new Response(parse.frame).body
    return parse.collect(body)
  })
  expect(parsed).toEqual([{ type: 'update', data: 'line 1\nline 2', lastEventId: '7' }])
  const status = await runAsCommonJs(packageDir, example('examples/topics.ts'), (topics) => [
    topics.GET(new Request('http://localhost/events')).status,
    topics.GET(new Request('http://localhost/events', { headers: { 'x-user-id': 'ada' } })).status,
  ])
  expect(status).toEqual([401, 200])
})

test('every README of the repository follows the rule: each code block is a file that CI runs', () => {
  const root = fileURLToPath(new URL('../../..', import.meta.url))
  const rootExamples = readmeExamples(root)
  expect(rootExamples.map((e) => e.file)).toEqual([
    'packages/core/examples/prices.ts',
    'packages/express/examples/chat.ts',
  ])
  const readmes = readdirSync(join(root, 'packages'))
    .map((name) => join(root, 'packages', name))
    .concat(readdirSync(join(root, 'apps')).map((name) => join(root, 'apps', name)))
    .filter((dir) => existsSync(join(dir, 'README.md')))
  expect(readmes.length).toBeGreaterThanOrEqual(11)
  // Throws naming the README and the block that breaks the rule.
  for (const dir of readmes) readmeExamples(dir)
})
