import { type ChildProcess, fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { resolve } from 'node:path'
import { createParser, createSession, type ParsedEvent, type Session } from '@sse/core'
import { Redis } from 'ioredis'
import { describe, expect, test } from 'vitest'

/** Where the tests find Redis. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

async function probe(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, {
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
export const redisAvailable = await probe()
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false'

if (!redisAvailable && !inCi) {
  console.warn(
    `@sse/redis: no Redis answered at REDIS_URL=${REDIS_URL}; skipping the Redis tests. ` +
      'Start one (redis-server --port 6379) or set REDIS_URL. Under CI=true they run and fail.',
  )
}

/** `describe` for suites that need Redis: skipped when none answers (see {@link testRedisAnswers}). */
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
export function adminClient(): Redis {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  redis.on('error', () => undefined)
  return redis
}

/** Deletes every key under `prefix` (never FLUSHDB: the Redis may be shared). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await redis.del(...keys)
  } while (cursor !== '0')
}

/** Connections whose name starts with `namePrefix`, from CLIENT LIST. */
export async function clientsNamed(
  redis: Redis,
  namePrefix: string,
): Promise<Array<{ id: string; name: string; flags: string; cmd: string }>> {
  const list = (await redis.client('LIST')) as string
  return list
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) =>
      Object.fromEntries(line.split(' ').map((pair) => pair.split('=') as [string, string])),
    )
    .filter((client) => (client.name ?? '').startsWith(namePrefix))
    .map((client) => ({
      id: client.id!,
      name: client.name!,
      flags: client.flags ?? '',
      cmd: client.cmd ?? '',
    }))
}

/** Drops every connection whose name starts with `namePrefix` (CLIENT KILL ID, one by one). */
export async function killClients(redis: Redis, namePrefix: string): Promise<number> {
  let killed = 0
  for (const client of await clientsNamed(redis, namePrefix)) {
    killed += Number(await redis.client('KILL', 'ID', client.id))
  }
  return killed
}

/** Polls `condition` until it holds; fails with `message` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  message: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for: ${message}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** A core session over an in-memory sink, with what it received parsed. */
export function recordingSession(): { session: Session; events: ParsedEvent[] } {
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
    { retry: false, heartbeat: false },
  )
  return { session, events }
}

/** An event stream read with fetch; `ended` settles when the server goes away or `close()` is called. */
export interface OpenStream {
  events: ParsedEvent[]
  ended: Promise<unknown>
  close(): void
}

export function openStream(url: string, lastEventId?: string): OpenStream {
  const controller = new AbortController()
  const events: ParsedEvent[] = []
  const headers: Record<string, string> =
    lastEventId === undefined ? {} : { 'last-event-id': lastEventId }
  const ended = (async () => {
    const response = await fetch(url, { headers, signal: controller.signal })
    const parser = createParser({ onEvent: (event) => events.push(event) })
    const reader = response.body!.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return 'end'
      parser.feed(value)
    }
  })().catch((error: unknown) => error)
  return { events, ended, close: () => controller.abort() }
}

/** A server process (test/fixtures/server.ts) on its own port. */
export interface ServerProcess {
  child: ChildProcess
  port: number
  url: string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  publish(data: string): Promise<{ ok: boolean; id?: string; code?: string }>
  send(message: unknown): void
}

const serverScript = resolve(import.meta.dirname, 'fixtures/server.ts')
const packageDir = resolve(import.meta.dirname, '..')

export function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const child = fork(serverScript, [], {
    cwd: packageDir,
    execArgv: ['--import', 'tsx', '--conditions=@sse/source'],
    env: { ...process.env, REDIS_URL, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  )
  return new Promise((resolveServer, reject) => {
    const timer = setTimeout(
      () => reject(new Error('server process did not start in 15 s')),
      15_000,
    )
    child.once('exit', (code) => reject(new Error(`server process exited early (${code})`)))
    child.on('message', (message: { type?: string; port?: number }) => {
      if (message.type !== 'listening' || message.port === undefined) return
      clearTimeout(timer)
      const url = `http://127.0.0.1:${message.port}`
      resolveServer({
        child,
        port: message.port,
        url,
        exited,
        async publish(data) {
          const response = await fetch(`${url}/publish`, { method: 'POST', body: data })
          return (await response.json()) as { ok: boolean; id?: string; code?: string }
        },
        send: (m) => child.send(m as never),
      })
    })
  })
}
