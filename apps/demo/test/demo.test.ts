// The demo page in headless Chromium, as a person uses it: the chart fills,
// a notification goes round, the chat streams a POST answer through
// @sse/client, a drop resumes with nothing missed, and a screenshot is kept.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { answerFor, tokenize } from '../src/chat'
import { missingVendorFiles } from '../src/http'
import { hasChromium, launchChromium } from './browser'
import { type RunningDemo, startDemo } from './helpers'

/** What the page keeps in `window.demo` (see public/app.js). */
interface PageState {
  points: Array<{ seq: number; value: number; replayed: boolean; mark: boolean }>
  received: number
  missed: number
  duplicated: number
  reconnects: number
  lastEventId: string
  chats: number
  resumes: Array<{ from: string; caughtUp: number; missed: number; duplicated: number }>
}

declare global {
  interface Window {
    demo: PageState
  }
}

const SEEDED = [
  'Nightly backup completed in 42 s',
  'Build #1842 passed on main',
  'Deploy finished: v2.4.1 is live',
  'Ada joined the dashboard',
]
// Every run writes artifacts/demo.png (gitignored); UPDATE_SCREENSHOT=1 also
// refreshes the committed screenshot.png that the README shows.
const SCREENSHOT = fileURLToPath(new URL('../artifacts/demo.png', import.meta.url))
const COMMITTED_SCREENSHOT = fileURLToPath(new URL('../screenshot.png', import.meta.url))

describe.skipIf(!hasChromium)('the demo page in Chromium', () => {
  let browser: Browser
  let running: RunningDemo
  let page: Page
  const errors: string[] = []
  const state = (): Promise<PageState> => page.evaluate(() => window.demo)

  beforeAll(async () => {
    const missing = missingVendorFiles()
    if (missing.length > 0) {
      throw new Error(`The page imports ${missing.join(', ')}: run \`pnpm build\` first`)
    }
    // Points come faster than in the real demo (250 ms) so the chart fills
    // within the test's few seconds.
    ;[browser, running] = await Promise.all([
      launchChromium(),
      startDemo({ pointInterval: 60, tokenDelay: 12, retry: 300 }),
    ])
    // Notifications from "elsewhere" before the page opens: they arrive with
    // the first-visit snapshot.
    for (const text of SEEDED) {
      await fetch(`${running.url}/notify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
      })
    }
    await new Promise((resolve) => setTimeout(resolve, 1500))
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1.5 })
    page.on('pageerror', (error) => errors.push(error.message))
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text())
    })
    await page.goto(running.url)
    expect(errors).toEqual([])
  })

  afterAll(async () => {
    await browser?.close()
    await running?.close()
  })

  test('the chart fills from named `point` events, snapshot and live in one sequence', async () => {
    await page.waitForFunction(() => window.demo.points.length >= 40 && window.demo.received >= 5)
    expect(await page.locator('#status').getAttribute('data-state')).toBe('live')
    expect(await page.locator('#clients').textContent()).toBe('1')
    const { points, missed, duplicated } = await state()
    expect(points.map((point) => point.seq)).toEqual(points.map((_, i) => points[0]!.seq + i))
    expect({ missed, duplicated }).toEqual({ missed: 0, duplicated: 0 })
    expect(await page.locator('#chart path.line').count()).toBe(1)
  })

  test('a notification typed in the page comes back through the stream', async () => {
    await expect.poll(() => page.locator('#notices li').count()).toBe(SEEDED.length)
    await page.fill('#notify-text', 'Hello from headless Chromium')
    await page.click('#notify-form button[type=submit]')
    await page.locator('#notices li').first().getByText('Hello from headless Chromium').waitFor()
    expect(await page.locator('#notices li').count()).toBe(SEEDED.length + 1)
    expect(await page.inputValue('#notify-text')).toBe('')
  })

  test('@sse/client streams the POST /chat answer token by token', async () => {
    const prompt = 'How does reconnecting work?'
    const chatRequest = page.waitForRequest((request) => request.url().endsWith('/chat'))
    await page.getByRole('button', { name: prompt }).click()
    const request = await chatRequest
    expect(request.method()).toBe('POST')
    expect(request.postDataJSON()).toEqual({ prompt })
    // While it streams, the answer grows and Stop replaces Ask.
    await page.locator('.bubble.answer.streaming').waitFor()
    expect(await page.isVisible('#chat-stop')).toBe(true)
    await page.locator('.bubble.answer[data-done]').waitFor()
    expect(await page.locator('.bubble.answer').textContent()).toBe(answerFor(prompt))
    expect(await page.locator('#chat-meta').textContent()).toMatch(
      new RegExp(`^${tokenize(answerFor(prompt)).length} token events in`),
    )
    expect(await page.isVisible('#chat-send')).toBe(true)
  })

  test('"Drop connection": EventSource resumes from Last-Event-ID, 0 missed, 0 duplicated', async () => {
    const before = await state()
    await page.click('#drop')
    await page.waitForFunction(() => window.demo.resumes.length === 1)
    // Let a few live points follow the replay.
    const after = await state()
    await page.waitForFunction(
      (seq) => window.demo.points.at(-1)!.seq >= seq + 5,
      after.points.at(-1)!.seq,
    )
    const { points, missed, duplicated, reconnects, resumes } = await state()
    expect(reconnects).toBe(1)
    expect({ missed, duplicated }).toEqual({ missed: 0, duplicated: 0 })
    const [resume] = resumes
    // The server saw a Last-Event-ID the page had received, at or after the
    // one it held when the button was pressed, and replayed what came after.
    expect(resume!.from.split('-')[0]).toBe(before.lastEventId.split('-')[0])
    expect(Number(resume!.from.split('-')[1])).toBeGreaterThanOrEqual(
      Number(before.lastEventId.split('-')[1]),
    )
    expect(resume!.caughtUp).toBeGreaterThan(0)
    expect(points.some((point) => point.replayed)).toBe(true)
    expect(points.map((point) => point.seq)).toEqual(points.map((_, i) => points[0]!.seq + i))
    await expect
      .poll(() => page.locator('#resumes li').first().textContent())
      .toMatch(/^Resumed from id \S+ · \d+ events? replayed · 0 missed, 0 duplicated$/)
  })

  test('screenshot of the page after points, a notification, a chat answer and a resume', async () => {
    // The mark of the resume stays in view, a little left of the newest point.
    await page.waitForFunction(
      () => window.demo.points.at(-1)!.seq >= window.demo.points[0]!.seq + 110,
    )
    await page.mouse.move(0, 0)
    const png = await page.screenshot({ path: SCREENSHOT, fullPage: true })
    expect(png.byteLength).toBeGreaterThan(10_000)
    if (process.env.UPDATE_SCREENSHOT === '1') writeFileSync(COMMITTED_SCREENSHOT, png)
    expect(errors).toEqual([])
  })

  test('Stop closes the @sse/client stream mid-answer', async () => {
    const prompt = 'Can it scale with Redis?'
    await page.getByRole('button', { name: prompt }).click()
    const answer = page.locator('.bubble.answer').last()
    await page.waitForFunction(() => document.querySelectorAll('.bubble.answer')[1]?.textContent)
    await page.click('#chat-stop')
    await answer.and(page.locator('[data-done]')).waitFor()
    expect(await page.locator('#chat-meta').textContent()).toMatch(/ · stopped$/)
    expect(((await answer.textContent()) ?? '').length).toBeLessThan(answerFor(prompt).length)
    expect(await page.isVisible('#chat-send')).toBe(true)
  })
})
