import { fileURLToPath } from 'node:url'
import { openStream, type ScriptedServer, startServer } from '@sse/test-utils'
import { readmeExamples, runAsCommonJs } from '@sse/test-utils/docs'
import { afterAll, beforeAll, expect, test } from 'vitest'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const examples = readmeExamples(packageDir)
const example = (file: string) => examples.find((e) => e.file === file)!
let server: ScriptedServer

beforeAll(async () => {
  server = await startServer((seen) => {
    const auth = seen.headers.authorization
    if (seen.url === '/chat') {
      const { prompt } = JSON.parse(seen.body) as { prompt: string }
      openStream(seen.res, `data: ${auth} says \n\ndata: ${prompt}\n\nevent: done\ndata:\n\n`)
    } else if (auth !== 'Bearer fresh') {
      seen.res.writeHead(401).end()
    } else {
      openStream(seen.res, 'data: welcome back\n\n')
    }
  })
})
afterAll(() => server.close())

test('every README code block is an example file; the install line names what they import', () => {
  expect(examples.map((e) => e.file)).toEqual([
    'examples/chat.ts',
    'examples/token-refresh.ts',
    'examples/typed.ts',
    'examples/tabs.ts',
  ])
})

test('examples/chat.ts (ESM and CommonJS): POSTs the prompt with the token and collects the text until done', async () => {
  const { chat } = await import('../examples/chat')
  expect(await chat(`${server.url}/chat`, 'hi', 't0k3n')).toBe('Bearer t0k3n says hi')
  const viaRequire = await runAsCommonJs(
    packageDir,
    example('examples/chat.ts'),
    (ex) => ex.chat(`${process.env.SERVER}/chat`, 'yo', 'abc'),
    { env: { SERVER: server.url } },
  )
  expect(viaRequire).toBe('Bearer abc says yo')
})

test('examples/token-refresh.ts (ESM and CommonJS): a 401 refreshes the token and the stream goes on', async () => {
  const { feed, tokens } = await import('../examples/token-refresh')
  const stream = feed(`${server.url}/feed`)
  const first = await stream[Symbol.asyncIterator]().next()
  stream.close()
  expect(first.value?.data).toBe('welcome back')
  expect(tokens.value).toBe('fresh')
  const viaRequire = await runAsCommonJs(
    packageDir,
    example('examples/token-refresh.ts'),
    async (ex) => {
      const stream = ex.feed(`${process.env.SERVER}/feed`)
      const first = await stream[Symbol.asyncIterator]().next()
      stream.close()
      return [first.value.data, ex.tokens.value]
    },
    { env: { SERVER: server.url } },
  )
  expect(viaRequire).toEqual(['welcome back', 'fresh'])
})

test('examples/tabs.ts (ESM and CommonJS): where there are no Web Locks (Node) it is a plain stream', async () => {
  const { feed } = await import('../examples/tabs')
  const notices: string[] = []
  // A relative URL needs a page; in Node the example's stream fails to
  // connect and keeps retrying, which is all a page-less run can show.
  const stream = feed('ada', (event) => notices.push(event.data))
  expect(stream.readyState).toBe(0)
  stream.close()
  expect(stream.readyState).toBe(2)
  const viaRequire = await runAsCommonJs(packageDir, example('examples/tabs.ts'), (ex) => {
    const s = ex.feed('ada', () => undefined)
    s.close()
    return s.readyState
  })
  expect(viaRequire).toBe(2)
})

test('examples/typed.ts (ESM and CommonJS): a price that fails its schema is skipped; the next one is the value', async () => {
  const prices = await startServer((seen) =>
    openStream(
      seen.res,
      'event: price\ndata: {"symbol":"ACME"}\n\nevent: price\ndata: {"symbol":"ACME","usd":1.5}\n\n',
    ),
  )
  const { firstPrice } = await import('../examples/typed')
  expect(await firstPrice(prices.url)).toBe(1.5)
  const viaRequire = await runAsCommonJs(
    packageDir,
    example('examples/typed.ts'),
    (ex) => ex.firstPrice(process.env.SERVER),
    { env: { SERVER: prices.url } },
  )
  expect(viaRequire).toBe(1.5)
  await prices.close()
})
