import http, { type IncomingMessage } from 'node:http'
import { createHub, createParser, type Session } from '@sse/core'
import { sse } from '@sse/node-http'
import { type ListeningServer, listen, until } from '@sse/test-utils'
import { afterAll, beforeAll, expect, test } from 'vitest'

// Keyed conflation over a real socket: a client that reads at a tenth of the
// publish rate gets the newest value of every key, its queue stays under the
// bound, and a client reading as fast as it can gets every event.

const HOT = 10
const COLD = 40
const PAYLOAD = 'x'.repeat(4000)
const MAX_QUEUE = 256 * 1024
const hub = createHub()
const sessions = new Map<string, Session>()
let server: ListeningServer

beforeAll(async () => {
  server = await listen(
    http.createServer(
      sse(
        (session, { req }) => {
          sessions.set(new URL(req.url ?? '/', 'http://x').searchParams.get('name') ?? '', session)
          return hub.subscribe(session, 'prices/*').ready
        },
        { slowClient: 'conflate', maxQueueBytes: MAX_QUEUE, heartbeat: false },
      ),
    ),
  )
})

afterAll(async () => {
  hub.close()
  await server.close()
})

/** Opens a stream whose body is read only when `pull` is called. */
function openPaused(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        res.pause()
        resolve(res)
      })
      .on('error', reject)
  })
}

test('a client reading at 10% of the publish rate gets the newest value of every key; fast clients get every event', async () => {
  const fast = await fetch(`${server.url}/?name=fast`)
  const slow = await openPaused(`${server.url}/?name=slow`)
  await until(() => sessions.size === 2, 'both streams subscribed')

  // The fast client: everything it receives, as fast as it can.
  const fastEvents: string[] = []
  const fastParser = createParser({ onEvent: (event) => fastEvents.push(event.data) })
  const decoder = new TextDecoder()
  const fastDone = (async () => {
    const reader = fast.body!.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      fastParser.feed(decoder.decode(value, { stream: true }))
    }
  })().catch(() => undefined)

  // The slow client: reads a tenth of the bytes published, every 10 ms.
  const slowEvents: string[] = []
  const slowParser = createParser({ onEvent: (event) => slowEvents.push(event.data) })
  let budget = 0
  let slowBytes = 0
  const pull = (): void => {
    while (budget > 0) {
      const chunk = slow.read() as Buffer | null
      if (chunk === null) return
      budget -= chunk.length
      slowBytes += chunk.length
      slowParser.feed(chunk.toString('utf8'))
    }
  }

  const latest = new Map<string, string>()
  const slowSession = sessions.get('slow')!
  let maxQueued = 0
  let published = 0
  // 3 s at 2,000 events (8 MB) a second: far beyond what the kernel's
  // socket buffers absorb, so the server's queue is what is tested.
  for (let tick = 0; tick < 300; tick++) {
    let bytes = 0
    for (let i = 0; i < 20; i++) {
      // Hot keys change all the time, cold ones now and then: dropping the
      // oldest frames would lose cold keys' newest values.
      const key = published % 20 === 0 ? `c${(published / 20) % COLD}` : `h${published % HOT}`
      const data = `${key}:${published}:${PAYLOAD}`
      latest.set(key, data)
      bytes += data.length
      await hub.publish(`prices/${key}`, data, { key })
      published++
    }
    maxQueued = Math.max(maxQueued, slowSession.queuedBytes)
    budget += bytes / 10
    pull()
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  await hub.publish('prices/end', 'end')

  // Publishing stopped: now the slow client reads everything that is left.
  budget = Number.POSITIVE_INFINITY
  slow.on('readable', pull)
  pull()
  await until(() => slowEvents.at(-1) === 'end', 'the slow client reached the end', 20_000)
  await until(() => fastEvents.at(-1) === 'end', 'the fast client reached the end', 20_000)

  expect(slowSession.closed).toBe(false)
  expect(maxQueued).toBeLessThanOrEqual(MAX_QUEUE)
  expect(maxQueued).toBeGreaterThan(MAX_QUEUE / 2) // it did fall behind
  // Conflation dropped superseded values, not the newest of any key.
  expect(slowEvents.length).toBeLessThan(published / 2)
  const slowLatest = new Map<string, string>()
  for (const data of slowEvents.slice(0, -1)) slowLatest.set(data.split(':')[0]!, data)
  expect(slowLatest).toEqual(latest)
  // Each key's values arrive in publish order (a replacement goes to the end).
  const sequences = slowEvents.slice(0, -1).map((data) => Number(data.split(':')[1]))
  expect(sequences).toEqual([...sequences].sort((a, b) => a - b))
  // The fast client got every event, in order.
  expect(fastEvents).toHaveLength(published + 1)
  expect(fastEvents.slice(0, -1).map((data) => Number(data.split(':')[1]))).toEqual(
    Array.from({ length: published }, (_, i) => i),
  )
  expect(sessions.get('fast')!.closed).toBe(false)
  expect(slowBytes).toBeLessThan((published * PAYLOAD.length) / 2)

  sessions.get('fast')!.close()
  slowSession.close()
  slow.destroy()
  await fastDone
}, 30_000)
