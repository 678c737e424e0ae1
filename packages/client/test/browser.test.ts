// @sse/client in headless Chromium: the built ESM package, loaded by a page
// through an import map, against a real server with a hub.
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import { createHub } from '@sse/core'
import { sse } from '@sse/node-http'
import { type ListeningServer, listen, until } from '@sse/test-utils'
import {
  type Browser,
  type BrowserContext,
  hasChromium,
  launchChromium,
  type Page,
} from '@sse/test-utils/browser'
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest'

const hub = createHub()
const lastEventIds: Array<string | undefined> = []
let server: ListeningServer
let browser: Browser

// The packages' own ESM builds, as a bundler-free page loads them.
const dists: Record<string, URL> = {
  client: new URL('../dist/', import.meta.url),
  core: new URL('../../core/dist/', import.meta.url),
}
const PAGE = `<!doctype html><meta charset="utf-8"><title>client</title>
<script type="importmap">{"imports":{"@sse/client":"/client/index.js","@sse/client/shared":"/client/shared.js","@sse/core":"/core/index.js"}}</script>
<script type="module">
  import { connect } from '@sse/client'
  import { connectShared } from '@sse/client/shared'
  window.events = []
  window.ids = []
  window.errors = []
  window.open = (options, shared) => {
    const controller = new AbortController()
    window.abort = () => controller.abort()
    const stream = (shared ? connectShared : connect)('/events', { ...options, signal: controller.signal })
    window.stream = stream
    stream.addEventListener('message', (event) => {
      window.events.push(event.data)
      window.ids.push(event.lastEventId)
    })
    stream.addEventListener('error', (error) => window.errors.push(error.code))
  }
  /** What a browser does when the tab goes to the background, or comes back. */
  window.emulateVisibility = (state) => {
    Object.defineProperty(document, 'visibilityState', { value: state, configurable: true })
    Object.defineProperty(document, 'hidden', { value: state === 'hidden', configurable: true })
    document.dispatchEvent(new Event('visibilitychange'))
  }
  /** Relayed messages reach this tab late, as they may when tabs are busy. */
  window.lagRelay = (ms) => {
    const Native = BroadcastChannel
    window.BroadcastChannel = class extends Native {
      set onmessage(handler) {
        super.onmessage = (event) => setTimeout(() => handler(event), ms)
      }
    }
  }
  /** After every message relayed to this tab: is its lastEventId the last event's it dispatched? */
  window.watchRelay = () => {
    window.ahead = []
    const Native = BroadcastChannel
    window.BroadcastChannel = class extends Native {
      set onmessage(handler) {
        super.onmessage = (event) => {
          handler(event)
          const last = window.ids.at(-1)
          if (last !== undefined && window.stream.lastEventId !== last)
            window.ahead.push(window.stream.lastEventId + ' after ' + last)
        }
      }
    }
  }
  window.ready = true
</script>`

beforeAll(async () => {
  server = await listen(
    http.createServer(async (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      if (path === '/events') return eventsRoute(req, res)
      if (path === '/') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE)
        return
      }
      const match = /^\/(client|core)\/([\w-]+\.js)$/.exec(path)
      if (match === null) {
        res.writeHead(404).end()
        return
      }
      const file = new URL(match[2]!, dists[match[1]!])
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(file))
    }),
  )
  if (hasChromium) browser = await launchChromium()
})

const eventsRoute = sse(
  (session) => {
    lastEventIds.push(session.lastEventId)
    return hub.subscribe(session, 'news').ready
  },
  { heartbeat: false, retry: 200 },
)

afterAll(async () => {
  await browser?.close()
  hub.close()
  await server.close()
})

/** A page of its own context, closed when the test ends, passed or failed. */
async function openPage(): Promise<Page> {
  const page = await browser.newPage()
  onTestFinished(() => page.close())
  await page.goto(server.url)
  await page.waitForFunction(() => (window as { ready?: boolean }).ready === true)
  return page
}

type PageWindow = {
  events: string[]
  errors: string[]
  ahead: string[]
  stream: { lastEventId: string; readyState: number }
  open: (options: object, shared?: boolean) => void
  abort: () => void
  emulateVisibility: (state: string) => void
}
const received = (page: Page) => page.evaluate(() => (window as unknown as PageWindow).events)
const readyStateOf = (page: Page) =>
  page.evaluate(() => (window as unknown as PageWindow).stream.readyState)
const errorsOf = (page: Page) => page.evaluate(() => (window as unknown as PageWindow).errors)
const setVisibility = (page: Page, state: 'hidden' | 'visible') =>
  page.evaluate((s) => (window as unknown as PageWindow).emulateVisibility(s), state)
/** A browser context (tabs of one origin that share), closed when the test ends. */
async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext()
  onTestFinished(() => context.close())
  return context
}
const lastEventIdOf = (page: Page) =>
  page.evaluate(() => (window as unknown as { stream: { lastEventId: string } }).stream.lastEventId)

// Pages under a loaded CI machine are slow: a wait that fails must report
// what it waited for (until's own 10 s), not the suite's 20 s test timeout.
describe.skipIf(!hasChromium)('in Chromium', { timeout: 60_000 }, () => {
  test("hidden: 'close' closes the stream while the page is hidden and resumes with Last-Event-ID when shown", async () => {
    const page = await openPage()
    await page.evaluate(() =>
      (window as unknown as { open: (o: object) => void }).open({ hidden: 'close' }),
    )
    await until(() => hub.size === 1, 'the stream open')
    await hub.publish('news', 'one')
    await hub.publish('news', 'two')
    await until(async () => (await received(page)).length === 2, 'two events')

    await page.evaluate(() =>
      (window as unknown as { emulateVisibility: (s: string) => void }).emulateVisibility('hidden'),
    )
    await until(() => hub.size === 0, 'the server sees the stream closed')
    expect(
      await page.evaluate(
        () => (window as unknown as { stream: { readyState: number } }).stream.readyState,
      ),
    ).toBe(0)
    await hub.publish('news', 'three, while hidden')
    await hub.publish('news', 'four, while hidden')
    // Nothing reconnects while hidden.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(hub.size).toBe(0)

    const idsBefore = lastEventIds.length
    await page.evaluate(() =>
      (window as unknown as { emulateVisibility: (s: string) => void }).emulateVisibility(
        'visible',
      ),
    )
    await until(async () => (await received(page)).length === 4, 'the missed events replayed')
    expect(lastEventIds.length).toBe(idsBefore + 1)
    expect(lastEventIds.at(-1)).toMatch(/^0:/)
    await hub.publish('news', 'five')
    await until(async () => (await received(page)).length === 5, 'live again')
    expect(await received(page)).toEqual([
      'one',
      'two',
      'three, while hidden',
      'four, while hidden',
      'five',
    ])
    await page.close()
    await until(() => hub.size === 0, 'closed with the page')
  })

  test("by default ('keep') a hidden page keeps its stream", async () => {
    const page = await openPage()
    await page.evaluate(() => (window as unknown as { open: (o: object) => void }).open({}))
    await until(() => hub.size === 1, 'the stream open')
    await page.evaluate(() =>
      (window as unknown as { emulateVisibility: (s: string) => void }).emulateVisibility('hidden'),
    )
    await hub.publish('news', 'to a hidden tab')
    await until(
      async () => (await received(page)).includes('to a hidden tab'),
      'delivered while hidden',
    )
    expect(hub.size).toBe(1)
    await page.close()
    await until(() => hub.size === 0, 'closed with the page')
  })

  /**
   * A page of `context` with a shared stream open (`options` added to its
   * key); `lag` delays what is relayed to it, `watch` checks it (watchRelay).
   */
  async function openShared(
    context: BrowserContext,
    {
      lag = 0,
      watch = false,
      options = {},
    }: { lag?: number; watch?: boolean; options?: object } = {},
  ): Promise<Page> {
    const page = await context.newPage()
    await page.goto(server.url)
    await page.waitForFunction(() => (window as { ready?: boolean }).ready === true)
    if (lag > 0)
      await page.evaluate(
        (ms) => (window as unknown as { lagRelay: (ms: number) => void }).lagRelay(ms),
        lag,
      )
    if (watch)
      await page.evaluate(() => (window as unknown as { watchRelay: () => void }).watchRelay())
    await page.evaluate(
      (o) => (window as unknown as PageWindow).open({ key: 'k', ...o }, true),
      options,
    )
    return page
  }

  test('shared: three tabs, one stream; closing the holding tab fails over with nothing lost or repeated', async () => {
    const context = await newContext()
    const open = () => openShared(context)
    // The first tab holds the stream; the others wait for its lock.
    const holder = await open()
    await until(() => hub.size === 1, 'the holder connected')
    const others = [await open(), await open()]
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(hub.size).toBe(1)

    const sent: string[] = []
    const publish = async (data: string) => {
      sent.push(data)
      await hub.publish('news', data)
    }
    for (let i = 0; i < 5; i++) await publish(`before ${i}`)
    for (const page of [holder, ...others]) {
      await until(async () => (await received(page)).length === 5, 'every tab, every event')
      expect(await received(page)).toEqual(sent)
    }

    // The holding tab closes while events keep coming: another takes over.
    const idsBefore = lastEventIds.length
    const publishing = (async () => {
      for (let i = 0; i < 10; i++) {
        await publish(`during ${i}`)
        await new Promise((resolve) => setTimeout(resolve, 30))
      }
    })()
    await holder.close()
    await publishing
    await until(() => hub.size === 1 && lastEventIds.length === idsBefore + 1, 'one stream again')
    expect(lastEventIds.at(-1)).toMatch(/^0:/) // it resumed, from the last id relayed
    for (let i = 0; i < 3; i++) await publish(`after ${i}`)
    for (const page of others) {
      // A wait that times out still compares, so a failure shows what was lost or repeated.
      await until(
        async () => (await received(page)).length === sent.length,
        'everything, once',
      ).catch(() => undefined)
      expect(await received(page)).toEqual(sent)
    }
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(hub.size).toBe(1)
    await context.close()
    await until(() => hub.size === 0, 'closed with the tabs')
  })
  test('shared: a tab that takes over from behind the relay repeats nothing to a tab ahead of it', async () => {
    const context = await newContext()
    const holder = await openShared(context)
    await until(() => hub.size === 1, 'the holder connected')
    // Next in line for the lock, and its relayed events come 3 s late.
    const behind = await openShared(context, { lag: 3000 })
    const ahead = await openShared(context)
    const sent: string[] = []
    const publish = async (data: string) => {
      sent.push(data)
      await hub.publish('news', data)
    }
    for (let i = 0; i < 3; i++) await publish(`seen by all ${i}`)
    await until(async () => (await received(behind)).length === 3, 'the lagging tab caught up')
    const behindId = await lastEventIdOf(behind)

    for (let i = 0; i < 3; i++) await publish(`not yet relayed to the next holder ${i}`)
    await until(async () => (await received(ahead)).length === 6, 'the tab ahead has six')
    const idsBefore = lastEventIds.length
    await holder.close()
    await until(() => lastEventIds.length === idsBefore + 1, 'the lagging tab took over')
    // It resumed from where it was (the scenario under test), not from the last event.
    expect(lastEventIds.at(-1)).toBe(behindId)
    await publish('after the takeover')
    // The new holder's stream is ordered, and so is its relay: a repeat of
    // an earlier event would come before this last one, not after it.
    for (const page of [ahead, behind]) {
      await until(
        async () => (await received(page)).at(-1) === 'after the takeover',
        'the last event',
      )
      expect(await received(page)).toEqual(sent)
    }
    await context.close()
    await until(() => hub.size === 0, 'closed with the tabs')
  })

  test("shared: a tab's lastEventId never runs ahead of the events it dispatched (the next holder resumed past an event it never had)", async () => {
    const context = await newContext()
    await openShared(context)
    await until(() => hub.size === 1, 'the holder connected')
    const tab = await openShared(context, { watch: true })
    await until(async () => (await readyStateOf(tab)) === 1, 'the tab told the stream is open')
    // One at a time, each event its own chunk.
    for (let i = 1; i <= 5; i++) {
      await hub.publish('news', `event ${i}`)
      await until(async () => (await received(tab)).length === i, `event ${i}`)
    }
    // The holder relayed each chunk's last id before its events: a tab that
    // had the id alone when the lock came resumed after the event, and lost it.
    expect(await tab.evaluate(() => (window as unknown as PageWindow).ahead)).toEqual([])
  })

  test('shared, typed: an event that fails its check is reported in every tab, and the stream stays OPEN in each', async () => {
    const context = await newContext()
    const options = { json: true }
    const holder = await openShared(context, { options })
    await until(() => hub.size === 1, 'the holder connected')
    const other = await openShared(context, { options })
    await until(
      async () => (await readyStateOf(other)) === 1,
      'the other tab told the stream is open',
    )
    await hub.publish('news', JSON.stringify({ n: 1 }))
    await hub.publish('news', 'not JSON')
    await hub.publish('news', JSON.stringify({ n: 2 }))
    for (const page of [holder, other]) {
      await until(async () => (await received(page)).length === 2, 'the two valid events')
      expect(await received(page)).toEqual(['{"n":1}', '{"n":2}'])
      expect(await errorsOf(page)).toEqual(['SSE_INVALID_EVENT'])
      // It was CONNECTING, with events still coming, until the next open.
      expect(await readyStateOf(page)).toBe(1)
    }
  })

  test("shared: aborting a tab's signal closes that tab alone; aborting the holder's passes the stream on", async () => {
    const context = await newContext()
    const holder = await openShared(context)
    await until(() => hub.size === 1, 'the holder connected')
    const leaving = await openShared(context)
    const staying = await openShared(context)
    await hub.publish('news', 'to all three')
    for (const page of [holder, leaving, staying])
      await until(async () => (await received(page)).length === 1, 'every tab, the event')

    // A tab waiting in line: it alone stops.
    await leaving.evaluate(() => (window as unknown as PageWindow).abort())
    expect(await readyStateOf(leaving)).toBe(2)
    await hub.publish('news', 'to two')
    await until(async () => (await received(staying)).length === 2, 'the staying tab, the event')
    expect(hub.size).toBe(1)

    // The holder: the next tab takes over, as when the holding tab closes.
    const idsBefore = lastEventIds.length
    await holder.evaluate(() => (window as unknown as PageWindow).abort())
    await until(() => hub.size === 1 && lastEventIds.length === idsBefore + 1, 'taken over')
    await hub.publish('news', 'to one')
    await until(async () => (await received(staying)).length === 3, 'the staying tab, live')
    expect(await received(staying)).toEqual(['to all three', 'to two', 'to one'])
    expect(await readyStateOf(staying)).toBe(1)
    expect(await received(leaving)).toEqual(['to all three'])
  })

  test("shared, hidden: 'close': held while any tab is visible, whichever tab holds it; none while all are hidden; shown, nothing missed", async () => {
    const context = await newContext()
    const options = { hidden: 'close' }
    const holder = await openShared(context, { options })
    await until(() => hub.size === 1, 'the holder connected')
    const other = await openShared(context, { options })
    await hub.publish('news', 'both visible')
    await until(async () => (await received(other)).length === 1, 'the other tab, the event')

    // The holding tab goes to the background: the visible one still gets events
    // (cut, the stream would drop this one, and the visible tab would wait).
    await setVisibility(holder, 'hidden')
    await hub.publish('news', 'holder hidden')
    await until(async () => (await received(other)).length === 2, 'the visible tab, live')
    expect(hub.size).toBe(1)

    // Every tab hidden: no stream.
    await setVisibility(other, 'hidden')
    await until(() => hub.size === 0, 'nothing held while every tab is hidden')
    expect(await readyStateOf(other)).toBe(0)
    // Each request is one entry: shown, one more means none was made while hidden.
    const idsBefore = lastEventIds.length
    await hub.publish('news', 'all hidden 1')
    await hub.publish('news', 'all hidden 2')

    // Shown: the stream resumes from the last id, and every tab has every event once.
    await setVisibility(other, 'visible')
    await until(() => hub.size === 1, 'held again')
    expect(lastEventIds.length).toBe(idsBefore + 1)
    expect(lastEventIds.at(-1)).toMatch(/^0:/)
    const all = ['both visible', 'holder hidden', 'all hidden 1', 'all hidden 2']
    for (const page of [holder, other]) {
      await until(async () => (await received(page)).length === all.length, 'the missed events')
      expect(await received(page)).toEqual(all)
    }
    expect(await errorsOf(other)).toEqual([])
  })
})
