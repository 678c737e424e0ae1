/**
 * Question: what does one broadcast to 10,000 connected clients cost, ours
 * (`hub.publish`: serialize and encode once, write the same bytes to
 * every session) against better-sse's `Channel.broadcast` (which calls
 * `session.push` per session: serialize, build the frame and write, each time)?
 *
 * Both get the same kind of in-memory sink: a writer that counts frames and
 * bytes and always accepts, so the row measures the libraries, not sockets.
 */
import { createHub, createMemoryEngine, createSession, type SseSink } from '@sse/core'
import {
  Connection,
  createChannel as createBetterChannel,
  createSession as createBetterSession,
} from 'better-sse'
import { compare, formatRatio, type Row, spread, type Task } from './measure'

export const question = 'broadcast'
export const cases = ['10,000 sessions, ~200-byte JSON event'] as const

const SESSIONS = 10_000

const counters = { frames: 0, bytes: 0 }

function ourSink(): SseSink {
  return {
    write(chunk) {
      counters.frames++
      counters.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength
      return true
    },
    onDrain() {
      throw new Error('an always-accepting sink never needs a drain')
    },
    close: () => undefined,
    signal: new AbortController().signal,
  }
}

/**
 * better-sse's own sink abstraction (its exported `Connection`, what its Node
 * adapter implements with `res.write`), writing into the same counters.
 */
class CountingConnection extends Connection {
  url = new URL('http://127.0.0.1/events')
  request = new Request(this.url)
  response = new Response(null, { headers: Connection.constants.RESPONSE_HEADERS })
  sendHead = (): void => undefined
  sendChunk = (chunk: string): void => {
    counters.frames++
    // String length, not Buffer.byteLength: O(1), like byteLength on our side.
    counters.bytes += chunk.length
  }
  cleanup = (): void => undefined
}

function payload(n: number) {
  // About 200 bytes of JSON: a typical notification.
  return {
    type: 'notification',
    id: `ntf_${n}`,
    user: { id: 'usr_48213', name: 'Ada Lovelace' },
    title: 'Your export is ready',
    body: 'The CSV export of 12,480 rows finished in 3.2 s.',
    createdAt: '2026-11-23T20:00:00.000Z',
  }
}

async function setUp() {
  // Live only (no history kept) and with the default 1,000 events of history.
  const ours = createHub({ engine: createMemoryEngine({ maxEvents: 0 }) })
  const oursStored = createHub()
  const better = createBetterChannel()
  for (let i = 0; i < SESSIONS; i++) {
    // Heartbeats off for both: they do not run during a broadcast anyway.
    const session = createSession(ourSink(), { retry: false, heartbeat: false })
    await ours.subscribe(session, 'news').ready
    await oursStored.subscribe(createSession(ourSink(), { retry: false, heartbeat: false }), 'news')
      .ready
    better.register(
      await createBetterSession(new CountingConnection(), { keepAlive: null, retry: null }),
    )
  }
  return { ours, oursStored, better }
}

/** Runs one broadcast and returns how many frames reached sinks. */
function delivered(broadcast: () => void): number {
  const before = counters.frames
  broadcast()
  return counters.frames - before
}

export async function run(caseName: string): Promise<Row[]> {
  const { ours, oursStored, better } = await setUp()
  if (ours.size !== SESSIONS || oursStored.size !== SESSIONS || better.sessionCount !== SESSIONS) {
    throw new Error('not every session joined')
  }
  let n = 0
  const tasks: Task[] = [
    {
      name: 'ours: hub.publish, no history',
      fn: () => delivered(() => void ours.publish('news', payload(n++), { event: 'update' })),
      expected: SESSIONS,
    },
    {
      name: 'ours: hub.publish + memory engine history (replay on)',
      fn: () => delivered(() => void oursStored.publish('news', payload(n++), { event: 'update' })),
      expected: SESSIONS,
    },
    {
      name: 'better-sse 0.16.1: Channel.broadcast',
      fn: () => delivered(() => better.broadcast(payload(n++), 'update', { eventId: String(n) })),
      expected: SESSIONS,
    },
  ]

  // Every contender must put a full frame on every sink: check one round.
  const frameBytes = tasks.map((task) => {
    const bytesBefore = counters.bytes
    if (task.fn() !== SESSIONS) throw new Error(`${task.name}: not every session got the frame`)
    const perSession = (counters.bytes - bytesBefore) / SESSIONS
    if (!(perSession > 200)) throw new Error(`${task.name}: frames of ${perSession} bytes`)
    return perSession
  })

  const measured = compare(tasks, { samples: 7, sampleMs: 300, warmupMs: 300 })
  const ours0 = measured[0]!
  return measured.map((m, index) => ({
    question,
    case: caseName,
    contender: `${m.name} — ${(m.nsPerIteration / 1e6).toFixed(2)} ms per broadcast`,
    // Bytes delivered to sinks per second.
    bytesPerSec: (frameBytes[index]! * SESSIONS * 1e9) / m.nsPerIteration,
    eventsPerSec: (SESSIONS * 1e9) / m.nsPerIteration,
    spread: spread(m),
    ratio: m === ours0 ? '' : `ours / this = ${formatRatio(ours0, m)}`,
  }))
}
