/**
 * What do idle topics and subscriptions cost in memory? In this process, a
 * hub on the memory engine with sessions on sinks that discard their bytes,
 * nothing published. Each row is (heapUsed after a full GC with the
 * subscriptions − heapUsed after a full GC with the same sessions and a
 * lighter or no subscription) / what was added, so the sessions themselves
 * are not counted. The topic and selector strings are counted: the hub keeps
 * them.
 *
 * Engines keep nothing per topic (their state is per shard), so the hub's
 * index and subscriptions are all an idle topic costs in a process.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { createHub, createSession, type Session } from '@sse/core'
import { median, type Row } from './measure'

export interface IdleCase {
  label: string
  /** Sessions in the measurement. */
  sessions: number
  /** What one unit is, for the row. */
  unit: string
  /** Units added over the baseline. */
  units: number
  /** Selectors of session `i` in the baseline (`[]`: not subscribed at all). */
  baseline(i: number): string[]
  /** Selectors of session `i` measured. */
  measured(i: number): string[]
}

const SESSIONS = 20_000
const WIDE = 200
const PER_SESSION = 100
const own = (i: number): string[] => [`users/${i}`]
const many = (i: number, shape: (k: number) => string): string[] =>
  Array.from({ length: PER_SESSION }, (_, k) => shape(i * PER_SESSION + k))

export const IDLE_CASES: IdleCase[] = [
  {
    label: 'a subscription to one shared topic',
    sessions: SESSIONS,
    unit: 'subscription',
    units: SESSIONS,
    baseline: () => [],
    measured: () => ['news'],
  },
  {
    label: 'a subscription to a topic of its own (an idle topic with one subscriber)',
    sessions: SESSIONS,
    unit: 'subscription',
    units: SESSIONS,
    baseline: () => [],
    measured: own,
  },
  {
    label: `each further exact topic of a subscription (${PER_SESSION} own topics vs 1)`,
    sessions: WIDE,
    unit: 'idle exact topic',
    units: WIDE * (PER_SESSION - 1),
    baseline: own,
    measured: (i) => many(i, (k) => `users/${k}`),
  },
  {
    label: `each pattern selector of a subscription (${PER_SESSION} own patterns vs none)`,
    sessions: WIDE,
    unit: 'pattern selector',
    units: WIDE * PER_SESSION,
    baseline: own,
    measured: (i) => [...own(i), ...many(i, (k) => `rooms/${k}/*`)],
  },
]

const gc = (globalThis as { gc?: () => void }).gc

async function settledHeap(): Promise<number> {
  // A few times, with a turn between: finalizers and weak references settle.
  for (let i = 0; i < 3; i++) {
    gc!()
    await sleep(10)
  }
  return process.memoryUsage().heapUsed
}

function idleSession(): Session {
  return createSession(
    {
      write: () => true,
      onDrain: () => undefined,
      close: () => undefined,
      onClientGone: () => undefined,
    },
    { retry: false, heartbeat: false },
  )
}

/** Heap bytes with `count` sessions subscribed with `selectors(i)` each. */
async function heapWith(count: number, selectors: (i: number) => string[]): Promise<number> {
  const hub = createHub({ maxSelectors: PER_SESSION + 1 })
  const sessions = Array.from({ length: count }, idleSession)
  const ready: Array<Promise<void>> = []
  for (const [i, session] of sessions.entries()) {
    const list = selectors(i)
    if (list.length > 0) ready.push(hub.subscribe(session, list).ready)
  }
  await Promise.all(ready)
  ready.length = 0
  const heap = await settledHeap()
  // The sessions stay referenced until measured, subscribed or not.
  if (sessions.length !== count) throw new Error('lost sessions')
  hub.close()
  return heap
}

export async function idleRows(question: string, caseName: string): Promise<Row[]> {
  if (gc === undefined) throw new Error('topics: idle memory needs node --expose-gc')
  const rows: Row[] = []
  for (const idle of IDLE_CASES) {
    const samples: number[] = []
    for (let round = 0; round < 3; round++) {
      const base = await heapWith(idle.sessions, idle.baseline)
      const measured = await heapWith(idle.sessions, idle.measured)
      samples.push((measured - base) / idle.units)
    }
    const middle = median(samples)
    rows.push({
      question,
      case: caseName,
      contender: `${idle.label}: ${Math.round(middle)} bytes per ${idle.unit}`,
      bytesPerSec: 0,
      eventsPerSec: 0,
      spread: `±${Math.round(((Math.max(...samples) - Math.min(...samples)) / 2 / middle) * 100)}%`,
      ratio: '',
    })
  }
  return rows
}
