/**
 * Question: what does the scale-out path cost a live event? Publish-to-receive
 * latency (p50/p99) and delivered throughput at a fixed publish rate, through
 * Redis with two server processes (one publishes, the other serves a real
 * HTTP SSE client) vs one process with an in-memory channel. The measurement
 * lives with the package (packages/redis/bench/latency.ts), which asserts that
 * every event arrived exactly once; this file puts its rows in the table.
 */
import { run as measureLatency } from '../../../packages/redis/bench/latency'
import type { Row } from './measure'

export const question = 'redis'
export const cases = ['2,000 events/s for 5 s, ~40-byte JSON events'] as const

export async function run(caseName: string): Promise<Row[]> {
  const results = await measureLatency({ rate: 2000, durationMs: 5000 })
  const memory = results.find((r) => r.contender.startsWith('memory'))
  return results.map((r) => ({
    question,
    case: caseName,
    contender: `${r.contender} — p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.delivered} delivered`,
    bytesPerSec: 0,
    eventsPerSec: r.eventsPerSec,
    spread: '—',
    ratio:
      memory === undefined || r === memory
        ? ''
        : `p50 +${(r.p50Ms - memory.p50Ms).toFixed(2)} ms vs memory`,
  }))
}
