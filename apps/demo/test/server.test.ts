// The demo's HTTP surface, with fetch and the core parser (no browser).
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { MAX_NOTICE_LENGTH } from '../src/app'
import { answerFor, tokenize } from '../src/chat'
import type { Notice, Point, Recent } from '../src/recent'
import { type RunningDemo, readEvents, startDemo, waitFor } from './helpers'

let running: RunningDemo
beforeAll(async () => {
  running = await startDemo({ pointInterval: 20, tokenDelay: 0, retry: 100 })
  // A little history for the first-visit snapshot.
  await new Promise((resolve) => setTimeout(resolve, 150))
})
afterAll(() => running?.close())

const json = { 'content-type': 'application/json' }
const post = (path: string, body: string, headers: Record<string, string> = json) =>
  fetch(running.url + path, { method: 'POST', headers, body })

test('a first visit gets recent history in `hello`, and live points continue right after it', async () => {
  const response = await fetch(`${running.url}/events`)
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
  const [hello, ...rest] = await readEvents(response, (event) => event.type === 'point')
  const next = rest.at(-1)
  expect(hello!.type).toBe('hello')
  const snapshot = JSON.parse(hello!.data) as Recent & { resumedFrom: null; store: string }
  expect(snapshot).toMatchObject({ resumedFrom: null, store: 'memory', clients: 1 })
  expect(snapshot.points.length).toBeGreaterThan(3)
  const last = snapshot.points.at(-1)!
  // `hello` carries the newest id, so a reconnect resumes right after the snapshot.
  expect(hello!.lastEventId).toBe(last.id)
  expect(next!.type).toBe('point')
  expect((JSON.parse(next!.data) as Point).seq).toBe(last.seq + 1)
})

test('a reconnect replays what it missed, then says where the replay ended', async () => {
  const first = await readEvents(await fetch(`${running.url}/events`), (e) => e.type === 'point')
  const resumeFrom = first.at(-1)!.lastEventId
  const seqFrom = (JSON.parse(first.at(-1)!.data) as Point).seq
  await new Promise((resolve) => setTimeout(resolve, 100))
  const response = await fetch(`${running.url}/events`, {
    headers: { 'last-event-id': resumeFrom },
  })
  const events = await readEvents(response, (event) => event.type === 'hello')
  const replayed = events.filter((event) => event.type === 'point')
  expect(replayed.length).toBeGreaterThan(1)
  expect(replayed.map((event) => (JSON.parse(event.data) as Point).seq)).toEqual(
    replayed.map((_, i) => seqFrom + 1 + i),
  )
  expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ resumedFrom: resumeFrom })
})

describe('POST /notify', () => {
  test.each([
    ['no JSON content type', '{"text":"hi"}', { 'content-type': 'text/plain' }, 415],
    ['invalid JSON', '{"text":', json, 400],
    ['no text', '{}', json, 400],
    ['blank text', '{"text":"   "}', json, 400],
    ['text that is not a string', '{"text":42}', json, 400],
    ['text over the cap', JSON.stringify({ text: 'x'.repeat(MAX_NOTICE_LENGTH + 1) }), json, 400],
    ['a body over 2 KiB', JSON.stringify({ text: 'hi', pad: 'x'.repeat(3000) }), json, 413],
  ])('refuses %s', async (_name, body, headers, status) => {
    const response = await post('/notify', body, headers)
    expect(response.status).toBe(status)
    expect(await response.json()).toHaveProperty('error')
  })

  test('broadcasts a `notice` to every open stream, control characters flattened', async () => {
    const stream = await fetch(`${running.url}/events`)
    const received = readEvents(stream, (event) => event.type === 'notice')
    await waitFor(() => running.demo.main.size >= 2)
    const response = await post('/notify', JSON.stringify({ text: ' deploy\ndone\u0007 ' }))
    expect(response.status).toBe(202)
    const { id } = (await response.json()) as { id: string }
    const notice = (await received).at(-1)!
    expect(notice.lastEventId).toBe(id)
    expect(JSON.parse(notice.data) as Notice).toMatchObject({
      text: 'deploy done',
      from: `:${new URL(running.url).port}`,
    })
  })
})

describe('POST /chat', () => {
  test('streams the answer as `token` events, then ends the response', async () => {
    const prompt = 'How does reconnecting work?'
    const response = await post('/chat', JSON.stringify({ prompt }))
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events = await readEvents(response)
    expect(events.every((event) => event.type === 'token')).toBe(true)
    expect(events.map((event) => event.data)).toEqual(tokenize(answerFor(prompt)))
    expect(events.map((event) => event.data).join('')).toBe(answerFor(prompt))
  })

  test('refuses a missing or oversized prompt before opening a stream', async () => {
    expect((await post('/chat', '{"prompt":""}')).status).toBe(400)
    expect((await post('/chat', JSON.stringify({ prompt: 'x'.repeat(501) }))).status).toBe(400)
  })
})

test('POST /drop closes every main stream and says how many', async () => {
  const streams = await Promise.all([
    fetch(`${running.url}/events`),
    fetch(`${running.url}/events`),
  ])
  const ended = streams.map((response) => readEvents(response))
  await waitFor(() => running.demo.main.size >= 3) // the two, plus the recorder
  const response = await post('/drop', '')
  expect(((await response.json()) as { dropped: number }).dropped).toBeGreaterThanOrEqual(2)
  await Promise.all(ended)
})

test('serves the page, its scripts and the vendored builds, and nothing else', async () => {
  const page = await fetch(`${running.url}/`)
  expect(page.headers.get('content-type')).toMatch(/^text\/html/)
  expect(await page.text()).toContain('"@sse/client": "/vendor/client/index.js"')
  expect((await fetch(`${running.url}/app.js`)).status).toBe(200)
  expect((await fetch(`${running.url}/vendor/core/index.js`)).status).toBe(200)
  expect((await fetch(`${running.url}/nope`)).status).toBe(404)
  expect((await fetch(`${running.url}/notify`)).status).toBe(405)
  expect(await rawStatus('/vendor/core/..%2F..%2Fpackage.json')).toBe(404)
  expect(await rawStatus('/vendor/core/../package.json')).toBe(404)
})

/** GETs a path exactly as written (fetch would normalize the dots away). */
function rawStatus(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(`${running.url}${path}`, { path }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
      .on('error', reject)
      .end()
  })
}

// Runs whenever REDIS_URL is set and always under CI (against the default
// local Redis, which CI starts); elsewhere it needs REDIS_URL to opt in.
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false'
const redisUrl = process.env.REDIS_URL ?? (inCi ? 'redis://127.0.0.1:6379' : undefined)
if (redisUrl === undefined) {
  console.warn('⚠ SKIPPING "two instances sharing Redis": set REDIS_URL to run it.')
}

describe.runIf(redisUrl)('two instances sharing Redis', () => {
  let a: RunningDemo
  let b: RunningDemo
  beforeAll(async () => {
    a = await startDemo({ redisUrl: redisUrl!, pointInterval: 50, tokenDelay: 0 })
    b = await startDemo({ redisUrl: redisUrl!, pointInterval: 50, tokenDelay: 0 })
  })
  afterAll(async () => {
    await a?.close()
    await b?.close()
  })

  test('a notice posted to one reaches the other, and the chart has one producer', async () => {
    const text = `from a ${Date.now()}`
    let posted = false
    const events = await readEvents(await fetch(`${b.url}/events`), (event, all) => {
      // Once b's stream is flowing, post to a.
      if (!posted && all.filter((seen) => seen.type === 'point').length === 5) {
        posted = true
        void fetch(`${a.url}/notify`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ text }),
        })
      }
      return event.type === 'notice' && event.data.includes(text)
    })
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ text, from: `:${new URL(a.url).port}` })
    const seqs = events
      .filter((event) => event.type === 'point')
      .map((event) => (JSON.parse(event.data) as Point).seq)
    expect(seqs.length).toBeGreaterThanOrEqual(5)
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i))
  })
})
