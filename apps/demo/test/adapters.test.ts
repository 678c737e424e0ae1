// The browser's own EventSource against every adapter: what a real page
// receives, not what a Node client we chose receives.

import { hasChromium, launchChromium } from '@sse/test-utils/browser'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type Adapter,
  adapters,
  EXPECTED,
  PAGE,
  type Running,
  resumeScenario,
  type Seen,
  scripted,
} from './servers'

declare global {
  interface Window {
    events: Seen[]
    opens: number
    done: boolean
  }
}

describe.skipIf(!hasChromium)('Chromium EventSource', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(() => browser?.close())

  /** Opens the test page on `stream` and returns what it collected once `end` arrived. */
  async function collect(url: string, stream: string): Promise<{ events: Seen[]; opens: number }> {
    const page: Page = await browser.newPage()
    try {
      await page.goto(`${url}/?stream=${stream}`)
      await page.waitForFunction(() => window.done, null, { timeout: 10_000 })
      return await page.evaluate(() => ({ events: window.events, opens: window.opens }))
    } finally {
      await page.close()
    }
  }

  describe.each(adapters)('$name', (adapter: Adapter) => {
    let server: Running
    const resume = resumeScenario(30, 10)
    beforeAll(async () => {
      server = await adapter.start({
        page: PAGE,
        streams: { '/script': scripted, '/resume': resume.handler },
        retry: 100,
      })
    })
    afterAll(async () => {
      resume.close()
      await server?.close()
    })

    test('receives named events, ids and multi-line data as the spec says', async () => {
      const { events, opens } = await collect(server.url, '/script')
      expect(events).toEqual(EXPECTED)
      expect(opens).toBe(1)
    })

    test('reconnects with Last-Event-ID after the server closes mid-stream; every event once', async () => {
      const { events, opens } = await collect(server.url, '/resume')
      const ticks = events.filter((event) => event.type === 'tick').map((event) => event.data)
      expect(ticks).toEqual(Array.from({ length: 30 }, (_, i) => String(i + 1)))
      expect(events.at(-1)?.type).toBe('end')
      expect(opens).toBe(2)
      // The second request carried the id of the last event before the drop,
      // and events sent while the browser was away came through the replay.
      expect(resume.connections).toEqual([undefined, events[9]!.lastEventId])
      expect(resume.sentWhileAway).toBeGreaterThan(0)
    })
  })
})
