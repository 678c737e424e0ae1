// Users and topics in Chromium: two tabs of one user and one tab of another,
// on two demo instances sharing Redis (one instance in memory without it),
// each tab with one EventSource. A notification to a user reaches that
// user's tabs only, once each; a broadcast reaches every tab.

import { hasChromium, launchChromium } from '@sse/test-utils/browser'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { missingVendorFiles } from '../src/http'
import { userTopic } from '../src/topics'
import {
  deleteKeys,
  notify,
  type RunningDemo,
  redisUrl,
  startDemo,
  uniquePrefix,
  WAIT,
} from './helpers'

interface Notice {
  id: string
  text: string
}

/** The part of `window.demo` (public/app.js) these tests read. */
interface TabState {
  user: string
  topics: string[]
  notices: Notice[]
  privateNotices: Notice[]
  opens: number
  duplicated: number
}

interface Tab {
  name: string
  page: Page
  /** The requests this page made to /events: its EventSource connections. */
  streams: string[]
  state(): Promise<TabState>
}

if (redisUrl === undefined) {
  console.warn(
    '⚠ users and topics in Chromium: one instance in memory; set REDIS_URL for two sharing Redis.',
  )
}

describe.skipIf(!hasChromium)('users and topics in Chromium', () => {
  const prefix = uniquePrefix()
  let browser: Browser
  let instances: RunningDemo[] = []
  let tabs: Tab[] = []
  const errors: string[] = []

  async function open(name: string, running: RunningDemo, user: string): Promise<Tab> {
    const page = await browser.newPage()
    const streams: string[] = []
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/events') streams.push(request.url())
    })
    page.on('pageerror', (error) => errors.push(`${name}: ${error.message}`))
    await page.goto(`${running.url}/?user=${user}`)
    await page.waitForFunction(() => (window.demo as unknown as TabState).topics.length > 0, null, {
      polling: 50,
    })
    const state = () => page.evaluate(() => window.demo as unknown as TabState)
    return { name, page, streams, state }
  }

  /** Resolves once `tab` holds the notice `id` in `list`. */
  function arrives(tab: Tab, list: 'notices' | 'privateNotices', id: string): Promise<unknown> {
    return tab.page.waitForFunction(
      ([list, id]) => (window.demo as unknown as TabState)[list].some((notice) => notice.id === id),
      [list, id] as const,
      { polling: 50 },
    )
  }

  const ids = (notices: Notice[]): string[] => notices.map((notice) => notice.id)

  beforeAll(async () => {
    const missing = missingVendorFiles()
    if (missing.length > 0) {
      throw new Error(`The page imports ${missing.join(', ')}: run \`pnpm build\` first`)
    }
    const options = { pointInterval: 100, tokenDelay: 0 }
    ;[browser, ...instances] = await Promise.all([
      launchChromium(),
      ...(redisUrl === undefined
        ? [startDemo(options)]
        : [
            startDemo({ ...options, redisUrl, prefix }),
            startDemo({ ...options, redisUrl, prefix }),
          ]),
    ])
  })

  afterAll(async () => {
    await browser?.close()
    for (const running of instances) await running.close()
    if (redisUrl !== undefined) await deleteKeys(redisUrl, prefix)
  })

  test('a notification to A reaches both A tabs once and never B; a broadcast reaches all three; one EventSource each', async () => {
    const [x, y = x] = instances as [RunningDemo, RunningDemo?]
    const { engine } = x.demo.hub
    // B's name shares A's shard, so B's own notice, published after A's,
    // comes after it in the one log both are read from: once B has its own,
    // A's would have been there before it.
    const b = ['bob', ...Array.from({ length: 200 }, (_, i) => `bob${i}`)].find(
      (name) => engine.shardOf(userTopic(name)) === engine.shardOf(userTopic('ada')),
    )!
    tabs = await Promise.all([open('A1', x, 'ada'), open('A2', y, 'ada'), open('B', y, b)])
    const [a1, a2, tabB] = tabs as [Tab, Tab, Tab]
    // Every subscription is live (its shards followed) before anything is sent.
    for (const running of new Set(instances)) {
      await Promise.all([...running.demo.hub.subscriptions()].map(({ ready }) => ready))
    }
    expect(instances.reduce((sum, running) => sum + running.demo.tabs, 0)).toBe(3)

    // Each sent through one instance, for tabs on both.
    const toA = await notify(y.url, { text: 'for ada', to: 'ada' })
    const toB = await notify(x.url, { text: `for ${b}`, to: b })
    // The same trick the other way: A's second notice follows B's on the shard.
    const toAAgain = await notify(x.url, { text: 'for ada again', to: 'ada' })
    const everyone = await notify(y.url, { text: 'for everyone' })
    for (const tab of [a1, a2]) {
      await arrives(tab, 'privateNotices', toAAgain.id)
      await arrives(tab, 'notices', everyone.id)
    }
    await arrives(tabB, 'privateNotices', toB.id)
    await arrives(tabB, 'notices', everyone.id)

    for (const tab of tabs) {
      const state = await tab.state()
      const mine = tab === tabB ? [toB.id] : [toA.id, toAAgain.id]
      expect(ids(state.privateNotices), tab.name).toEqual(mine)
      expect(
        ids(state.notices).filter((id) => id === everyone.id),
        tab.name,
      ).toHaveLength(1)
      expect(state.topics, tab.name).toEqual([
        userTopic(state.user),
        'chart',
        'notices',
        'presence',
      ])
      expect(state.duplicated, tab.name).toBe(0)
      // One connection carried all of it: one request to /events, opened once.
      expect(state.opens, tab.name).toBe(1)
      expect(tab.streams, tab.name).toHaveLength(1)
    }
    // Presence adds up every instance's tabs, wherever a page is served.
    for (const tab of tabs) {
      await expect.poll(() => tab.page.locator('#clients').textContent(), WAIT).toBe('3')
    }
    expect(errors).toEqual([])
  }, 60_000) // three pages in one Chromium, on a 2-core machine
})
