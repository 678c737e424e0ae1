/**
 * Question: what does a client that reads at a tenth of the publish rate
 * get under each slow-client policy: `close` (it reconnects with its
 * Last-Event-ID and replays), `drop-oldest` or `conflate` (keyed events
 * replace their queued predecessor)?
 *
 * A real server on 127.0.0.1 and a real socket: for 3 s a hub publishes
 * 2,000 events a second of 4 kB to 50 keys (10 hot keys take 95% of the
 * updates, 40 cold ones the rest), and the client reads a tenth of the
 * bytes published, every 10 ms, reconnecting whenever its stream ends. Then
 * publishing stops and it reads the rest. Rows: what the client received
 * per second of the window (bytes, events, median of 3 runs), and in the
 * note what it received in all (the catch-up included), how many keys it ended up holding the newest value of, and how many
 * times it had to reconnect (or was told to resync: history it needed was
 * gone).
 */
import http, { type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHub, createParser, type SlowClientPolicy } from '@sse/core'
import { sse } from '@sse/node-http'
import { median, type Row } from './measure'

export const question = 'slow-client'
export const cases = ['close', 'drop-oldest', 'conflate'] as const

const RUNS = 3
const WINDOW_TICKS = 300 // of 10 ms
const PER_TICK = 20
const HOT = 10
const COLD = 40
const PAYLOAD = 'x'.repeat(4000)
const MAX_QUEUE = 256 * 1024

interface Outcome {
  /** Received during the publishing window. */
  windowBytes: number
  windowEvents: number
  /** Received in all, the catch-up after the window included. */
  bytes: number
  events: number
  fresh: number
  reconnects: number
  resyncs: number
}

export async function run(caseName: string): Promise<Row[]> {
  const policy = caseName as SlowClientPolicy
  const outcomes: Outcome[] = []
  for (let i = 0; i < RUNS; i++) outcomes.push(await once(policy))
  const windowSeconds = (WINDOW_TICKS * 10) / 1000
  const bytes = outcomes.map((o) => o.windowBytes / windowSeconds)
  const events = outcomes.map((o) => o.windowEvents / windowSeconds)
  const mid = median(bytes)
  const half = (Math.max(...bytes) - Math.min(...bytes)) / 2
  const worst = outcomes.reduce((a, b) => (b.fresh < a.fresh ? b : a))
  return [
    {
      question,
      case: `client at 10% of 8 MB/s, ${HOT + COLD} keys`,
      contender: policy,
      bytesPerSec: mid,
      eventsPerSec: median(events),
      spread: `±${Math.round((half / mid) * 100)}%`,
      ratio: '',
      note:
        `in all ${(median(outcomes.map((o) => o.bytes)) / 1e6).toFixed(1)} MB, ` +
        `${median(outcomes.map((o) => o.events))} events; newest value of ${worst.fresh}/${HOT + COLD} keys (worst run); ` +
        `${median(outcomes.map((o) => o.reconnects))} reconnects, ` +
        `${median(outcomes.map((o) => o.resyncs))} resyncs (median)`,
    },
  ]
}

async function once(slowClient: SlowClientPolicy): Promise<Outcome> {
  const hub = createHub()
  const server = http.createServer(
    sse((session) => hub.subscribe(session, 'prices/*').ready, {
      slowClient,
      maxQueueBytes: MAX_QUEUE,
      heartbeat: false,
    }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`

  const latest = new Map<string, string>()
  const held = new Map<string, string>()
  const outcome: Outcome = {
    windowBytes: 0,
    windowEvents: 0,
    bytes: 0,
    events: 0,
    fresh: 0,
    reconnects: 0,
    resyncs: 0,
  }
  let budget = 0
  let lastEventId = ''
  let response: IncomingMessage | undefined
  let finished = false
  let sawEnd = false
  const parser = createParser({
    onEvent(event) {
      lastEventId = event.lastEventId
      outcome.events++
      if (event.type === 'resync') outcome.resyncs++
      else if (event.data === 'end') sawEnd = true
      else held.set(event.data.slice(0, event.data.indexOf(':')), event.data)
    },
  })
  const pull = (): void => {
    while (budget > 0 && response !== undefined) {
      const chunk = response.read() as Buffer | null
      if (chunk === null) return
      budget -= chunk.length
      outcome.bytes += chunk.length
      parser.feed(chunk.toString('utf8'))
    }
  }
  const connect = (): void => {
    const headers = lastEventId === '' ? {} : { 'last-event-id': lastEventId }
    http.get(url, { headers }, (res) => {
      res.pause()
      response = res
      res.on('readable', pull)
      res.on('close', () => {
        if (response === res) response = undefined
        if (!finished) {
          outcome.reconnects++
          parser.reset()
          connect()
        }
      })
    })
  }
  connect()
  // Every stream is subscribed before publishing starts.
  while (hub.size === 0) await new Promise((resolve) => setTimeout(resolve, 5))

  let published = 0
  for (let tick = 0; tick < WINDOW_TICKS; tick++) {
    let bytes = 0
    for (let i = 0; i < PER_TICK; i++) {
      const key = published % 20 === 0 ? `c${(published / 20) % COLD}` : `h${published % HOT}`
      const data = `${key}:${published}:${PAYLOAD}`
      latest.set(key, data)
      bytes += data.length
      await hub.publish(`prices/${key}`, data, { key })
      published++
    }
    budget += bytes / 10
    pull()
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  outcome.windowBytes = outcome.bytes
  outcome.windowEvents = outcome.events
  budget = Number.POSITIVE_INFINITY
  pull()
  // Published until seen: a client that reconnects after a resync is only
  // sent what comes after it.
  const deadline = Date.now() + 30_000
  while (!sawEnd && Date.now() < deadline) {
    await hub.publish('prices/end', 'end')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  if (!sawEnd) throw new Error(`${slowClient}: the client never reached the end`)
  finished = true
  for (const [key, data] of latest) if (held.get(key) === data) outcome.fresh++
  response?.destroy()
  hub.close()
  await closeServer(server)
  return outcome
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}
