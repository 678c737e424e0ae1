// The demo's HTTP surface, with fetch and the core parser (no browser).
import { request } from 'node:http'
import type { ParsedEvent } from '@sse/core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { MAX_NOTICE_LENGTH } from '../src/app'
import { answerFor, tokenize } from '../src/chat'
import type { Notice, Recent } from '../src/recent'
import {
  chartMoves,
  deleteKeys,
  deleteNatsPrefix,
  natsUrl,
  notify,
  openStream,
  pointsOf,
  type RunningDemo,
  readEvents,
  redisUrl,
  startDemo,
  uniquePrefix,
  waitFor,
} from './helpers'

let running: RunningDemo
beforeAll(async () => {
  running = await startDemo({ pointInterval: 20, tokenDelay: 0, retry: 100 })
  // A little history for the first-visit snapshot.
  await chartMoves(running.url, 3)
})
afterAll(() => running?.close())

const json = { 'content-type': 'application/json' }
const post = (path: string, body: string, headers: Record<string, string> = json) =>
  fetch(running.url + path, { method: 'POST', headers, body })
const noticesOf = (events: ParsedEvent[]): Notice[] =>
  events.filter((event) => event.type === 'notice').map((event) => JSON.parse(event.data))

describe('GET /events', () => {
  test('subscribes the tab to its user topic and the shared ones; a first visit gets recent history in `hello`, and live points continue right after it', async () => {
    const response = await openStream(running.url, 'Ada')
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const [hello, ...rest] = await readEvents(response, (event) => event.type === 'point')
    const next = rest.at(-1)
    expect(hello!.type).toBe('hello')
    const snapshot = JSON.parse(hello!.data) as Recent & Record<string, unknown>
    expect(snapshot).toMatchObject({
      resumedFrom: null,
      engine: 'memory',
      user: 'ada',
      topics: ['users/ada', 'chart', 'notices', 'presence'],
    })
    const last = snapshot.points.at(-1)!
    expect(snapshot.points.length).toBeGreaterThanOrEqual(3)
    expect(next!.type).toBe('point')
    expect(pointsOf([next!])[0]!.seq).toBe(last.seq + 1)
    // The id of every frame is the hub's position vector: one shard in memory.
    expect(next!.lastEventId).toMatch(/^0:[0-9a-z]+-\d+$/)
  })

  test.each([
    ['no user', '/events'],
    ['an empty user', '/events?user='],
    ['a user with a slash', '/events?user=ada%2Fadmin'],
    ['a pattern', '/events?user=*'],
    ['a user with a control character', '/events?user=ada%0A'],
    ['a user with spaces', '/events?user=%20ada'],
    ['a user over 24 characters', `/events?user=${'a'.repeat(25)}`],
  ])('refuses %s with a 400, before any stream', async (_name, path) => {
    const response = await fetch(running.url + path)
    expect(response.status).toBe(400)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await response.json()).toHaveProperty('error')
  })

  test('one Last-Event-ID resumes every topic of the tab: what it missed on each, once, and nothing of another user', async () => {
    const first = await readEvents(await openStream(running.url, 'ada'), (e) => e.type === 'point')
    const resumeFrom = first.at(-1)!.lastEventId
    const seqFrom = pointsOf(first).at(-1)!.seq
    await waitFor(() => running.demo.tabs === 0)
    // While ada is away: one event on her topic, one broadcast, one to bob.
    const mine = await notify(running.url, { text: 'for ada', to: 'ada' })
    const everyone = await notify(running.url, { text: 'for everyone' })
    const bobs = await notify(running.url, { text: 'for bob', to: 'bob' })
    await chartMoves(running.url, 2)
    const events = await readEvents(
      await openStream(running.url, 'ada', resumeFrom),
      (event) => event.type === 'hello',
    )
    const replayed = pointsOf(events)
    expect(replayed.length).toBeGreaterThanOrEqual(2)
    expect(replayed.map((point) => point.seq)).toEqual(replayed.map((_, i) => seqFrom + 1 + i))
    expect(noticesOf(events).map((notice) => notice.id)).toEqual([mine.id, everyone.id])
    expect(JSON.stringify(events)).not.toContain(bobs.id)
    // The watcher's tab came and went while ada was away: presence moved too.
    expect(events.some((event) => event.type === 'presence')).toBe(true)
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ resumedFrom: resumeFrom })
  })
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
    ['a target that is a pattern', '{"text":"hi","to":"*"}', json, 400],
    ['a target with a slash', '{"text":"hi","to":"ada/x"}', json, 400],
    ['a target that is not a string', '{"text":"hi","to":42}', json, 400],
  ])('refuses %s', async (_name, body, headers, status) => {
    const response = await post('/notify', body, headers)
    expect(response.status).toBe(status)
    expect(await response.json()).toHaveProperty('error')
  })

  test('without a target, publishes a `notice` to `notices`: every tab gets it, control characters flattened', async () => {
    const streams = await Promise.all([
      openStream(running.url, 'ada'),
      openStream(running.url, 'bob'),
    ])
    const received = streams.map((stream) => readEvents(stream, (event) => event.type === 'notice'))
    await waitFor(() => running.demo.tabs === 2)
    const response = await post('/notify', JSON.stringify({ text: ' deploy\ndone\u0007 ' }))
    expect(response.status).toBe(202)
    const { id, topic } = (await response.json()) as { id: string; topic: string }
    expect(topic).toBe('notices')
    for (const events of await Promise.all(received)) {
      expect(noticesOf(events).at(-1)).toMatchObject({
        id,
        text: 'deploy done',
        from: `:${new URL(running.url).port}`,
        to: null,
      })
    }
  })

  test('with a target, publishes to `users/<name>` only: that user gets it, nobody else', async () => {
    const [ada, bob] = await Promise.all([
      openStream(running.url, 'ada'),
      openStream(running.url, 'bob'),
    ])
    // Bob reads until his own notice: in memory every topic shares one
    // shard, so an event for ada published before it would have come first.
    const toAda = readEvents(ada, (event) => event.type === 'notice')
    const toBob = readEvents(bob, (event) => event.type === 'notice')
    await waitFor(() => running.demo.tabs === 2)
    const mine = await notify(running.url, { text: 'only for Ada', to: 'Ada' })
    expect(mine.topic).toBe('users/ada')
    const bobs = await notify(running.url, { text: 'only for bob', to: 'bob' })
    expect(noticesOf(await toAda)).toEqual([expect.objectContaining({ id: mine.id, to: 'ada' })])
    expect(noticesOf(await toBob)).toEqual([expect.objectContaining({ id: bobs.id, to: 'bob' })])
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

test('POST /drop closes every tab stream and says how many', async () => {
  await waitFor(() => running.demo.tabs === 0)
  const streams = await Promise.all([
    openStream(running.url, 'ada'),
    openStream(running.url, 'bob'),
  ])
  const ended = streams.map((response) => readEvents(response))
  await waitFor(() => running.demo.tabs === 2)
  const response = await post('/drop', '')
  expect(((await response.json()) as { dropped: number }).dropped).toBe(2)
  await Promise.all(ended)
  expect(running.demo.tabs).toBe(0)
})

test('GET /metrics: the streams, frames and bytes in Prometheus format, through the OpenTelemetry exporter', async () => {
  await waitFor(() => running.demo.tabs === 0)
  const sample = async (name: string): Promise<number> => {
    const text = await (await fetch(`${running.url}/metrics`)).text()
    let sum = 0
    for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) {
      sum += Number(match[1])
    }
    return sum
  }
  const response = await fetch(`${running.url}/metrics`)
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
  const opened = await sample('sse_streams_opened_total')
  const bytes = await sample('sse_bytes_written_total')
  const streams = await Promise.all([
    openStream(running.url, 'ada'),
    openStream(running.url, 'bob'),
  ])
  const ended = streams.map((stream) => readEvents(stream))
  await waitFor(() => running.demo.tabs === 2)
  expect(await sample('sse_streams_open')).toBe(2)
  expect(await sample('sse_streams_opened_total')).toBe(opened + 2)
  await chartMoves(running.url, 2)
  expect(await sample('sse_bytes_written_total')).toBeGreaterThan(bytes)
  await post('/drop', '')
  await Promise.all(ended)
  expect(await sample('sse_streams_open')).toBe(0)
  expect(await sample('sse_streams_closed_total')).toBeGreaterThanOrEqual(2)
})

test('serves the page, its scripts and the vendored builds, and nothing else', async () => {
  const page = await fetch(`${running.url}/`)
  expect(page.headers.get('content-type')).toMatch(/^text\/html/)
  expect(await page.text()).toContain('"@sse/client": "/vendor/client/index.js"')
  for (const script of ['/app.js', '/chart.js', '/chat.js', '/notices.js', '/presence.js']) {
    expect((await fetch(running.url + script)).status).toBe(200)
  }
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

for (const shared of [
  { name: 'Redis', engine: 'redis', url: redisUrl, env: 'REDIS_URL' },
  { name: 'NATS JetStream', engine: 'nats', url: natsUrl, env: 'NATS_URL' },
] as const) {
  if (shared.url === undefined) {
    console.warn(`⚠ SKIPPING "two instances sharing ${shared.name}": set ${shared.env} to run it.`)
  }

  describe.runIf(shared.url)(`two instances sharing ${shared.name}`, () => {
    const prefix = uniquePrefix()
    const on = shared.engine === 'redis' ? { redisUrl: shared.url! } : { natsUrl: shared.url! }
    let a: RunningDemo
    let b: RunningDemo
    beforeAll(async () => {
      a = await startDemo({ ...on, prefix, pointInterval: 50, tokenDelay: 0 })
      b = await startDemo({ ...on, prefix, pointInterval: 50, tokenDelay: 0 })
    })
    afterAll(async () => {
      await a?.close()
      await b?.close()
      if (shared.engine === 'redis') await deleteKeys(shared.url!, prefix)
      else await deleteNatsPrefix(shared.url!, prefix)
    })

    test('a notice posted to one reaches the other, and the chart has one producer', async () => {
      const text = `from a ${Date.now()}`
      let posted = false
      const events = await readEvents(await openStream(b.url, 'ada'), (event, all) => {
        // Once b's stream is flowing, post to a.
        if (!posted && pointsOf(all).length === 5) {
          posted = true
          void notify(a.url, { text })
        }
        return event.type === 'notice' && event.data.includes(text)
      })
      expect(noticesOf(events).at(-1)).toMatchObject({ text, from: `:${new URL(a.url).port}` })
      const seqs = pointsOf(events).map((point) => point.seq)
      expect(seqs.length).toBeGreaterThanOrEqual(5)
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i))
    })

    test('a tab resumes on the other instance with its one Last-Event-ID, every topic', async () => {
      const first = await readEvents(await openStream(a.url, 'ada'), (e) => e.type === 'point')
      const resumeFrom = first.at(-1)!.lastEventId
      const seqFrom = pointsOf(first).at(-1)!.seq
      const mine = await notify(a.url, { text: 'for ada, away', to: 'ada' })
      const everyone = await notify(b.url, { text: 'for everyone, away' })
      await chartMoves(b.url, 2)
      const events = await readEvents(
        await openStream(b.url, 'ada', resumeFrom),
        (event) => event.type === 'hello',
      )
      const replayed = pointsOf(events)
      expect(replayed.map((point) => point.seq)).toEqual(replayed.map((_, i) => seqFrom + 1 + i))
      expect(replayed.length).toBeGreaterThanOrEqual(2)
      expect(
        noticesOf(events)
          .map((notice) => notice.id)
          .sort(),
      ).toEqual([mine.id, everyone.id].sort())
      expect(JSON.parse(events.at(-1)!.data)).toMatchObject({
        resumedFrom: resumeFrom,
        instance: `:${new URL(b.url).port}`,
        engine: shared.engine,
      })
    })
  })
}
