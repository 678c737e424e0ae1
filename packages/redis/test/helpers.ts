import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { connect } from 'node:net'
import {
  createHub,
  createParser,
  createSession,
  type Hub,
  type HubOptions,
  type ParsedEvent,
  type Session,
} from '@sse/core'
import { createRedisEngine, type RedisEngine, type RedisEngineOptions } from '@sse/redis'
import { type RedisCluster, startRedisCluster } from '@sse/test-utils/redis-cluster'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

/** Where the tests find the shared Redis (never flushed: every test uses its own prefix). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Whether a Redis answers PING at `url` now (one short-lived connection). */
export async function answersPing(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 1000,
  })
  redis.on('error', () => undefined)
  try {
    await redis.connect()
    return (await redis.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    redis.disconnect()
  }
}

/** Whether a Redis answered at REDIS_URL when the test file loaded. */
export const redisAvailable = await answersPing(REDIS_URL)
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false'

if (!redisAvailable && !inCi) {
  console.warn(
    `@sse/redis: no Redis answered at REDIS_URL=${REDIS_URL}; skipping the Redis tests. ` +
      'Start one (redis-server --port 6379) or set REDIS_URL. Under CI=true they run and fail.',
  )
}

/** `describe` for suites that need Redis (and redis-server on PATH): skipped when none answers. */
export const describeRedis: ReturnType<typeof describe.skipIf> = describe.skipIf(!redisAvailable)

/**
 * Under CI a missing Redis is a failure, reported at once rather than as
 * every test timing out; elsewhere the suites are skipped with a warning.
 */
export function testRedisAnswers(): void {
  test.runIf(inCi)('Redis answers at REDIS_URL (required under CI)', () => {
    expect(redisAvailable, `no Redis at REDIS_URL=${REDIS_URL}`).toBe(true)
  })
}

/** A key prefix no other test run uses. */
export function uniquePrefix(): string {
  return `sse-test:${randomUUID()}:`
}

/** A plain client for the test itself (inspecting streams, killing connections). */
export function adminClient(url = REDIS_URL): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  redis.on('error', () => undefined)
  return redis
}

/**
 * Deletes every key of the engines under `prefix` (and an ioredis
 * `keyPrefix`); never FLUSHDB: the Redis is shared.
 */
export async function deleteKeys(redis: Redis, prefix: string, keyPrefix = ''): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}{${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await redis.del(...keys)
  } while (cursor !== '0')
}

/** The ids of the connections whose name starts with `namePrefix` (CLIENT LIST). */
export async function clientIds(admin: Redis, namePrefix: string): Promise<string[]> {
  return String(await admin.call('CLIENT', 'LIST'))
    .split('\n')
    .filter((line) => line.includes(` name=${namePrefix}`))
    .map((line) => /id=(\d+)/.exec(line)![1]!)
}

/** Drops the connections whose name starts with `namePrefix`; how many. */
export async function killClients(admin: Redis, namePrefix: string): Promise<number> {
  let killed = 0
  for (const id of await clientIds(admin, namePrefix)) {
    killed += Number(await admin.call('CLIENT', 'KILL', 'ID', id))
  }
  return killed
}

/**
 * Every command the Redis at `url` runs from now on (each as its arguments),
 * until `stop()`: MONITOR on a socket of its own, its lines parsed here.
 * Not ioredis's `monitor()`: disconnecting it while a busy server still sent
 * lines made ioredis, no longer monitoring, take them for replies to no
 * command and throw out of the test ("Command queue state error").
 */
export async function monitorRedis(url: string): Promise<{ seen: string[][]; stop(): void }> {
  const { hostname, port } = new URL(url)
  const socket = connect({ host: hostname, port: Number(port || 6379) })
  socket.on('error', () => undefined)
  await once(socket, 'connect')
  const seen: string[][] = []
  let buffered = ''
  let started = false
  const ready = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1')
      let end = buffered.indexOf('\r\n')
      while (end !== -1) {
        const line = buffered.slice(0, end)
        buffered = buffered.slice(end + 2)
        if (!started) {
          if (line !== '+OK') reject(new Error(`MONITOR answered ${line}`))
          started = true
          resolve()
        } else if (line.startsWith('+')) seen.push(monitorArgs(line))
        end = buffered.indexOf('\r\n')
      }
    })
  })
  socket.write('MONITOR\r\n')
  await ready
  return { seen, stop: () => socket.destroy() }
}

/**
 * The arguments of one MONITOR line (`+<time> [<db> <client>] "arg" ...`),
 * unquoted as Redis quotes them (backslash escapes and `\xHH`), in UTF-8.
 */
function monitorArgs(line: string): string[] {
  const args: string[] = []
  let i = line.indexOf('] ') + 2
  while (i < line.length && line[i] === '"') {
    const bytes: number[] = []
    i++
    while (line[i] !== '"') {
      let c = line[i++]!
      if (c === '\\') {
        c = line[i++]!
        if (c === 'x') {
          bytes.push(Number.parseInt(line.slice(i, i + 2), 16))
          i += 2
          continue
        }
        c = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' }[c] ?? c
      }
      bytes.push(c.charCodeAt(0))
    }
    args.push(Buffer.from(bytes).toString('utf8'))
    i += 2
  }
  return args
}

// One `until` for every package's tests.
export { until } from '@sse/test-utils'

/** A session over an in-memory sink, with what it received parsed. */
export interface Recorder {
  session: Session
  events: ParsedEvent[]
  /** The client's Last-Event-ID now (id-only frames included). */
  lastEventId(): string
}

export function recordingSession(lastEventId?: string): Recorder {
  const events: ParsedEvent[] = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  const controller = new AbortController()
  const session = createSession(
    {
      write: (chunk) => {
        parser.feed(chunk)
        return true
      },
      onDrain: () => undefined,
      close: () => controller.abort(),
      signal: controller.signal,
    },
    { retry: false, heartbeat: false, ...(lastEventId === undefined ? {} : { lastEventId }) },
  )
  return { session, events, lastEventId: () => parser.lastEventId }
}

// The fetch-based live stream reader, shared with the other engines' tests.
export {
  type LiveStream as OpenStream,
  liveStream as openStream,
} from '@sse/test-utils/server-process'

/** What the engine-level tests run against: the shared Redis, or a local cluster. */
export interface Target {
  name: 'redis' | 'cluster'
  /** The key prefix of every engine of this target. */
  prefix: string
  /** Starts what the target needs (the cluster); call in beforeAll. */
  start(): Promise<void>
  /** An engine on this target (closed by `stop`). */
  engine(options?: RedisEngineOptions): RedisEngine
  /** A hub on a fresh engine of this target. */
  hub(options?: RedisEngineOptions, hubOptions?: HubOptions): Hub
  /** The cluster, for the cluster target. */
  cluster(): RedisCluster
  /** Environment for a server process (test/fixtures/server.ts) on this target. */
  env(): Record<string, string>
  /** Closes every hub and engine, deletes the keys (shared Redis), stops the cluster. */
  stop(): Promise<void>
}

export function target(name: 'redis' | 'cluster', prefix: string): Target {
  let cluster: RedisCluster | undefined
  const hubs: Hub[] = []
  const engines: RedisEngine[] = []
  const self: Target = {
    name,
    prefix,
    async start() {
      if (name === 'cluster') cluster = await startRedisCluster()
    },
    engine(options = {}) {
      let redis: Redis | Cluster | undefined
      if (name === 'cluster') {
        redis = new Cluster(self.cluster().startupNodes, { shardedSubscribers: true })
        // The engine reports through onError; a Cluster's own errors are ours to listen to.
        redis.on('error', () => undefined)
      }
      const engine = createRedisEngine({
        prefix,
        ...(name === 'cluster' ? { redis, quitOnClose: true } : { url: REDIS_URL }),
        ...options,
      })
      engines.push(engine)
      return engine
    },
    hub(options, hubOptions) {
      const hub = createHub({ ...hubOptions, engine: self.engine(options) })
      hubs.push(hub)
      return hub
    },
    cluster() {
      if (cluster === undefined) throw new Error('the cluster target was not started')
      return cluster
    },
    env() {
      return name === 'cluster'
        ? { PREFIX: prefix, CLUSTER: JSON.stringify(self.cluster().startupNodes) }
        : { PREFIX: prefix, REDIS_URL }
    },
    async stop() {
      for (const hub of hubs) hub.close()
      await Promise.all(engines.map((engine) => engine.close()))
      if (name === 'redis' && redisAvailable) {
        const admin = adminClient()
        await deleteKeys(admin, prefix)
        admin.disconnect()
      }
      await cluster?.stop()
    },
  }
  return self
}

/**
 * A target for the enclosing `describe`, with its own key prefix: started
 * before its tests (the cluster: once per file), stopped after them.
 */
export function useTarget(name: 'redis' | 'cluster'): Target {
  const on = target(name, uniquePrefix())
  beforeAll(() => on.start(), 60_000)
  afterAll(() => on.stop(), 30_000)
  return on
}
