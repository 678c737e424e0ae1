// useEventSource in headless Chromium: a page bundled with esbuild (React,
// react-dom and this package), two pages of one browser context sharing one
// stream through `shared: true`, against a real server with a hub.
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { createHub } from '@sse/core'
import { sse } from '@sse/node-http'
import { type ListeningServer, listen, until } from '@sse/test-utils'
import { type Browser, hasChromium, launchChromium } from '@sse/test-utils/browser'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const APP = `
import { createElement } from 'react'
import { createRoot } from 'react-dom/client'
import { useEventSource } from '@sse/react'

function Feed() {
  const { status, lastEvent } = useEventSource('/events', { shared: true, key: 'feed' })
  return createElement('p', { id: 'feed' }, status + ' ' + (lastEvent?.data ?? '-'))
}
createRoot(document.getElementById('root')).render(createElement(Feed))
`

const hub = createHub()
let server: ListeningServer
let browser: Browser
let bundle = ''

beforeAll(async () => {
  const built = await build({
    stdin: {
      contents: APP,
      resolveDir: fileURLToPath(new URL('.', import.meta.url)),
      loader: 'js',
    },
    bundle: true,
    format: 'esm',
    write: false,
    conditions: ['@sse/source'],
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  })
  bundle = built.outputFiles[0]!.text
  server = await listen(
    http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      if (path === '/events') return events(req, res)
      if (path === '/app.js')
        return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle)
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><div id="root"></div><script type="module" src="/app.js"></script>')
    }),
  )
  if (hasChromium) browser = await launchChromium()
}, 60_000)

let opened = 0
const events = sse(
  (session) => {
    opened++
    return hub.subscribe(session, 'news').ready
  },
  { heartbeat: false },
)

afterAll(async () => {
  await browser?.close()
  hub.close()
  await server?.close()
})

describe.skipIf(!hasChromium)('in Chromium', () => {
  test('two tabs render every event from one shared stream, and keep rendering after the holder closes', async () => {
    const context = await browser.newContext()
    const first = await context.newPage()
    await first.goto(server.url)
    await until(() => hub.size === 1, 'the first tab connected')
    const second = await context.newPage()
    await second.goto(server.url)
    const feed = (page: typeof first) => page.locator('#feed').textContent()
    await until(async () => (await feed(second)) === 'open -', 'the second tab open (relayed)')
    expect(hub.size).toBe(1)

    await hub.publish('news', 'hello')
    await until(async () => (await feed(first)) === 'open hello', 'the holder renders it')
    await until(async () => (await feed(second)) === 'open hello', 'the other tab renders it')

    expect(opened).toBe(1)
    await first.close()
    await until(() => opened === 2 && hub.size === 1, 'the second tab took over')
    await hub.publish('news', 'after')
    await until(async () => (await feed(second)) === 'open after', 'still rendering')
    await context.close()
  }, 30_000)
})
