import { randomUUID } from 'node:crypto'
import { type ParsedEvent, readEvents as readStream } from '@sse/core'
import { listen } from '@sse/test-utils/servers'
import { createDemo, type Demo, type DemoOptions } from '../src/app'
import { createDemoEngine } from '../src/engine'
import type { Point } from '../src/recent'

export interface RunningDemo {
  demo: Demo
  url: string
  close(): Promise<void>
}

/** Starts the demo on 127.0.0.1:0, in memory unless `redisUrl` or `natsUrl` is given. */
export async function startDemo(
  options: Omit<DemoOptions, 'engine'> & {
    redisUrl?: string
    natsUrl?: string
    prefix?: string
  } = {},
): Promise<RunningDemo> {
  const { redisUrl, natsUrl, prefix, ...demoOptions } = options
  const engine = await createDemoEngine({ redisUrl, natsUrl, prefix })
  const demo = createDemo({ engine, ...demoOptions })
  const { url } = await listen(demo.server)
  return {
    demo,
    url,
    async close() {
      await demo.close()
      await engine.close()
    },
  }
}

// Redis tests run whenever REDIS_URL is set and always under CI (against the
// default local Redis, which CI starts); elsewhere they need REDIS_URL to opt in.
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false'
export const redisUrl = process.env.REDIS_URL ?? (inCi ? 'redis://127.0.0.1:6379' : undefined)
// The same for NATS (JetStream) at NATS_URL.
export const natsUrl = process.env.NATS_URL ?? (inCi ? 'nats://127.0.0.1:4222' : undefined)

/** Deletes what a NATS demo made under `prefix`: its stream and its lease bucket. */
export async function deleteNatsPrefix(url: string, prefix: string): Promise<void> {
  const { connect } = await import('@nats-io/transport-node')
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const nc = await connect({ servers: url })
  try {
    const jsm = await jetstreamManager(nc)
    const name = prefix.replace(/[^\w-]/g, '_').replace(/_+$/, '')
    for (const stream of [name.toUpperCase(), `KV_${name}_producer`]) {
      await jsm.streams.delete(stream).catch(() => false)
    }
  } finally {
    await nc.close()
  }
}

/** A key prefix no other test run (or demo) uses on the shared Redis. */
export function uniquePrefix(): string {
  return `sse-demo-test-${randomUUID().slice(0, 8)}:`
}

/** Deletes every key under `prefix` (the engine's `{<prefix><shard>}…` keys and the lease). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const { Redis } = await import('ioredis')
  const redis = new Redis(url)
  try {
    for (const pattern of [`${prefix}*`, `{${prefix}*`]) {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        cursor = next
        if (keys.length > 0) await redis.del(...keys)
      } while (cursor !== '0')
    }
  } finally {
    redis.disconnect()
  }
}

/** Opens a tab's stream as `user` on `url`, with a Last-Event-ID to resume from if given. */
export function openStream(url: string, user: string, lastEventId?: string): Promise<Response> {
  const headers: Record<string, string> =
    lastEventId === undefined ? {} : { 'last-event-id': lastEventId }
  return fetch(`${url}/events?user=${encodeURIComponent(user)}`, { headers })
}

/** POSTs a notice to `url` and returns the answer's body. */
export async function notify(
  url: string,
  body: { text: string; to?: string },
): Promise<{ id: string; topic: string }> {
  const response = await fetch(`${url}/notify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (response.status !== 202) throw new Error(`POST /notify: ${response.status}`)
  return (await response.json()) as { id: string; topic: string }
}

/** The chart points among `events`. */
export function pointsOf(events: ParsedEvent[]): Point[] {
  return events.filter((event) => event.type === 'point').map((event) => JSON.parse(event.data))
}

/** Resolves once `count` more chart points have been published on `url`'s chart (read as a watcher tab). */
export async function chartMoves(url: string, count: number): Promise<void> {
  await readEvents(await openStream(url, 'watcher'), (_event, all) => pointsOf(all).length >= count)
}

/**
 * Reads an event stream with core's `readEvents` until `until` returns true
 * for the latest event (or the stream ends), then cancels it; returns every
 * event read. The test's own timeout bounds the wait.
 */
export function readEvents(
  response: Response,
  until: (event: ParsedEvent, all: ParsedEvent[]) => boolean = () => false,
): Promise<ParsedEvent[]> {
  return readStream(response, {
    until: (all) => all.length > 0 && until(all.at(-1)!, all as ParsedEvent[]),
    timeout: 60_000,
  })
}

/** For `expect.poll`, whose 1 s default is too short on a loaded 2-core machine. */
export const WAIT = { timeout: 10_000 }

/** Resolves when `condition` holds, polling every 10 ms, or rejects after `timeout` ms. */
export async function waitFor(condition: () => boolean, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
