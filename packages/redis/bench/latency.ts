/**
 * What does going through Redis cost a live event? Publish-to-receive latency
 * and delivered throughput at a fixed publish rate, received by a real HTTP
 * SSE client:
 *
 * - `memory`: one server process publishes to its own hub (in-memory engine).
 * - `redis`: one process publishes (one EVALSHA: XADD + SPUBLISH), another
 *   follows the shard (SSUBSCRIBE) and serves the client: the scaled-out path.
 *
 * Both publishers are the same code (the engine server of @sse/test-utils,
 * `burst`); every event carries its send time, and the client in this
 * process compares it with its receive time (`performance.timeOrigin + performance.now()`, the
 * same wall clock in every process). Every event must arrive, exactly once,
 * or the run fails.
 *
 * Standalone: `node --import tsx packages/redis/bench/latency.ts`
 * (REDIS_URL, BENCH_RATE, BENCH_DURATION_MS override the defaults).
 */
import { type ChildProcess, fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createParser } from '@sse/core'
import { ENGINE_SERVER } from '@sse/test-utils/server-process'
import { Redis } from 'ioredis'

/** One contender's numbers. */
export interface LatencyResult {
  contender: string
  p50Ms: number
  p99Ms: number
  eventsPerSec: number
  delivered: number
}

/** Options for {@link run}. */
export interface LatencyOptions {
  /** Events published per second. @defaultValue 2000 */
  rate?: number
  /** How long each contender publishes. @defaultValue 5000 */
  durationMs?: number
  /** The Redis for the `redis` contender. @defaultValue process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' */
  redisUrl?: string
}

const packageDir = resolve(import.meta.dirname, '..')

interface Server {
  child: ChildProcess
  url: string
}

function startServer(env: Record<string, string>): Promise<Server> {
  const child = fork(ENGINE_SERVER, [], {
    cwd: packageDir,
    execArgv: ['--import', 'tsx', '--conditions=@sse/source'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((done, fail) => {
    child.once('exit', (code) => fail(new Error(`bench server exited early (${code})`)))
    child.on('message', (message: { type?: string; port?: number }) => {
      if (message.type === 'listening') {
        done({ child, url: `http://127.0.0.1:${message.port}` })
      }
    })
  })
}

function stop(server: Server): Promise<void> {
  return new Promise((done) => {
    if (server.child.exitCode !== null) return done()
    server.child.once('exit', () => done())
    server.child.send({ type: 'shutdown' })
  })
}

function burst(server: Server, rate: number, durationMs: number) {
  return new Promise<{ sent: number; failed: number }>((done) => {
    const onMessage = (message: { type?: string; sent?: number; failed?: number }) => {
      if (message.type !== 'burst-done') return
      server.child.off('message', onMessage)
      done({ sent: message.sent ?? 0, failed: message.failed ?? 0 })
    }
    server.child.on('message', onMessage)
    server.child.send({ type: 'burst', rate, durationMs })
  })
}

/** Reads `expected` events from `url`, recording each one's latency. */
async function receive(url: string, expected: number, timeoutMs: number, live: () => void) {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  const latencies: number[] = []
  const seen = new Set<number>()
  let firstSent = Number.POSITIVE_INFINITY
  let lastReceived = 0
  const parser = createParser({
    onEvent: (event) => {
      // The server says when the subscription is live; then the burst may start.
      if (event.type === 'ready') return live()
      const now = performance.timeOrigin + performance.now()
      const { seq, t } = JSON.parse(event.data) as { seq: number; t: number }
      if (seen.has(seq)) throw new Error(`event ${seq} arrived twice`)
      seen.add(seq)
      latencies.push(now - t)
      firstSent = Math.min(firstSent, t)
      lastReceived = now
    },
  })
  try {
    const response = await fetch(url, { signal: controller.signal })
    const reader = response.body!.getReader()
    while (seen.size < expected) {
      const { done, value } = await reader.read()
      if (done) break
      parser.feed(value)
    }
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return { latencies, delivered: seen.size, spanMs: lastReceived - firstSent }
}

/** One burst, received by a fresh client that joined before the first event. */
async function phase(publisher: Server, receiver: Server, rate: number, durationMs: number) {
  const expected = Math.round((rate * durationMs) / 1000)
  // The previous phase's client is gone, this one is live: then publish.
  while ((await sessions(receiver)) > 0) await new Promise((r) => setTimeout(r, 5))
  let live = false
  const receiving = receive(`${receiver.url}/events?s=bench`, expected, durationMs + 30_000, () => {
    live = true
  })
  // Awaited below; this only keeps an early failure from going unhandled meanwhile.
  receiving.catch(() => undefined)
  while (!live) await new Promise((r) => setTimeout(r, 5))
  const published = await burst(publisher, rate, durationMs)
  return { ...(await receiving), published, expected }
}

async function sessions(server: Server): Promise<number> {
  const response = await fetch(`${server.url}/stats`)
  return ((await response.json()) as { sessions: number }).sessions
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

async function measure(
  contender: string,
  publisher: Server,
  receiver: Server,
  rate: number,
  durationMs: number,
): Promise<LatencyResult> {
  // Warm-up (JIT, connections, buffers), not measured.
  const warmUp = await phase(publisher, receiver, rate, 500)
  if (warmUp.delivered !== warmUp.expected) throw new Error(`${contender}: warm-up lost events`)
  const { latencies, delivered, spanMs, published, expected } = await phase(
    publisher,
    receiver,
    rate,
    durationMs,
  )
  if (published.failed > 0 || published.sent !== expected || delivered !== expected) {
    throw new Error(
      `${contender}: published ${published.sent} (${published.failed} failed), delivered ${delivered}, expected ${expected}`,
    )
  }
  latencies.sort((a, b) => a - b)
  return {
    contender,
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    eventsPerSec: Math.round(delivered / (spanMs / 1000)),
    delivered,
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}

/**
 * Runs both contenders and returns one row each; throws if any event was
 * lost or duplicated.
 *
 * @example
 * ```ts
 * const rows = await run({ rate: 2000, durationMs: 5000 })
 * ```
 */
export async function run(options: LatencyOptions = {}): Promise<LatencyResult[]> {
  const rate = options.rate ?? 2000
  const durationMs = options.durationMs ?? 5000
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const prefix = `sse-bench:${randomUUID()}:`
  const results: LatencyResult[] = []

  const memory = await startServer({ ENGINE: 'memory' })
  try {
    results.push(await measure('memory (1 process)', memory, memory, rate, durationMs))
  } finally {
    await stop(memory)
  }

  const env = { ENGINE: 'redis', REDIS_URL: redisUrl, PREFIX: prefix }
  const [publisher, receiver] = await Promise.all([startServer(env), startServer(env)])
  try {
    results.push(await measure('redis (2 processes)', publisher!, receiver!, rate, durationMs))
  } finally {
    await Promise.all([stop(publisher!), stop(receiver!)])
    const redis = new Redis(redisUrl)
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== '0')
    await redis.quit()
  }
  return results
}

function table(results: LatencyResult[]): string {
  const header = ['contender', 'p50 ms', 'p99 ms', 'events/s', 'delivered']
  const rows = results.map((r) => [
    r.contender,
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    String(r.eventsPerSec),
    String(r.delivered),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`
  return [
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n')
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rate = Number(process.env.BENCH_RATE ?? 2000)
  const durationMs = Number(process.env.BENCH_DURATION_MS ?? 5000)
  const results = await run({ rate, durationMs })
  process.stdout.write(
    `Publish-to-receive latency, ${rate} events/s for ${durationMs} ms, HTTP SSE client\n\n${table(results)}\n`,
  )
}
