/**
 * Question: what does a reconnect storm cost the instance that takes it?
 * 10,000 clients of a process that died reconnect to this one within a
 * second, each 100 events behind (all from the same Last-Event-ID, as the
 * clients of one process are), while events go on at 100 a second. Each is
 * a real session of a hub (a counting in-memory sink: the row measures the
 * hub and the engine, not sockets), and must get the 100 events it missed
 * and the live ones, or the row throws.
 *
 * Contenders: history reads coalesced (the default: sessions resuming from
 * one position while no event arrived share one read) and `coalesceReads:
 * false` (one read per session). Engines: memory, and Redis (a private
 * `redis-server`, so its counters hold only these commands).
 *
 * Rows: bytes written and reconnects served per second of this process's
 * CPU (user + system), with
 * in the note CPU per reconnect and, on Redis, commands and Redis CPU per
 * reconnect (median of 3 storms each; `INFO stats` and `INFO cpu`), and how
 * many sessions could not be resumed because their read failed.
 */
import { randomUUID } from 'node:crypto'
import { createHub, createMemoryEngine, createSession, type Engine, type Session } from '@sse/core'
import { createRedisEngine } from '@sse/redis'
import { Redis } from 'ioredis'
import { median, type Row } from './measure'
import { cpuMeter } from './redis-cpu'
import { startRedisServer } from './redis-server'

export const question = 'storm'
export const cases = ['memory', 'redis'] as const

const CLIENTS = 10_000
const BEHIND = 100
const RUNS = 3
const TOPIC = 'storm'

interface Storm {
  /** Sessions that got `resync` because their history read failed. */
  gaps: number
  /** Live events whose append failed meanwhile. */
  failedPublishes: number
  /** Bytes written to the sessions. */
  bytes: number
  cpuMicros: number
  commands: number
  redisMicros: number
}

export async function run(caseName: string): Promise<Row[]> {
  const redis = caseName === 'redis' ? await startRedisServer() : undefined
  try {
    const results = new Map<boolean, Storm[]>([
      [true, []],
      [false, []],
    ])
    // Interleaved, so that load from elsewhere falls on both alike.
    for (let i = 0; i < RUNS; i++) {
      for (const coalesce of [true, false]) {
        results.get(coalesce)!.push(await storm(coalesce, redis?.url))
      }
    }
    const cpu = (coalesce: boolean) => results.get(coalesce)!.map((s) => s.cpuMicros / CLIENTS)
    const ours = median(cpu(true))
    return [true, false].map((coalesce) => {
      const perReconnect = cpu(coalesce)
      const mid = median(perReconnect)
      const half = (Math.max(...perReconnect) - Math.min(...perReconnect)) / 2
      const storms = results.get(coalesce)!
      const onRedis =
        redis === undefined
          ? ''
          : `; ${median(storms.map((s) => s.commands / CLIENTS)).toFixed(3)} Redis commands and ` +
            `${median(storms.map((s) => s.redisMicros / CLIENTS)).toFixed(1)} µs Redis CPU per reconnect`
      const failed = Math.max(...storms.map((s) => s.gaps))
      const failures =
        failed === 0
          ? ''
          : `; up to ${failed.toLocaleString('en')} sessions got resync (read failed)`
      return {
        question,
        case: `${CLIENTS.toLocaleString('en')} reconnects in 1 s, each ${BEHIND} events behind, ${caseName} engine`,
        contender: coalesce ? 'reads coalesced' : 'coalesceReads: false',
        bytesPerSec: median(storms.map((s) => s.bytes / (s.cpuMicros / 1e6))),
        eventsPerSec: 1e6 / mid,
        spread: `±${Math.round((half / mid) * 100)}%`,
        ratio: '',
        note:
          `${mid.toFixed(1)} µs server CPU per reconnect${onRedis}${failures}` +
          (coalesce ? '' : ` (coalesced: ${(mid / ours).toFixed(1)}x less server CPU)`),
      }
    })
  } finally {
    await redis?.stop()
  }
}

async function storm(coalesce: boolean, redisUrl: string | undefined): Promise<Storm> {
  const engine: Engine =
    redisUrl === undefined
      ? createMemoryEngine({ maxEvents: 10_000 })
      : createRedisEngine({ url: redisUrl, prefix: `bench-storm:${randomUUID()}:` })
  const hub = createHub({
    engine,
    coalesceReads: coalesce,
    // A read that fails (on Redis: no reply within its 5 s command timeout)
    // leaves its session with a `resync`: counted, and reported.
    onError: () => undefined,
    onGap: (_session, gap) => {
      if (gap.reason !== 'error') throw new Error(`a session could not be resumed: ${gap.reason}`)
      gaps++
    },
  })
  const frames = { count: 0, bytes: 0 }
  let gaps = 0
  let failedPublishes = 0
  const sink = () => ({
    write(chunk: string | Uint8Array) {
      frames.count++
      frames.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength
      return true
    },
    onDrain: ignore,
    close: ignore,
    onClientGone: ignore,
  })
  // Where the clients were: the id of the last event their process sent.
  let lastId = ''
  const decoder = new TextDecoder()
  const first = createSession(
    {
      ...sink(),
      write(chunk) {
        const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk)
        lastId = /^id: (.*)$/m.exec(text)?.[1] ?? lastId
        return true
      },
    },
    { retry: false, heartbeat: false },
  )
  await hub.subscribe(first, TOPIC).ready
  await hub.publish(TOPIC, { seq: 0, text: 'where every client was' })
  await waitFor(() => lastId !== '')
  first.close()
  for (let seq = 1; seq <= BEHIND; seq++) await hub.publish(TOPIC, { seq, text: 'missed' })

  const info = redisUrl === undefined ? undefined : new Redis(redisUrl)
  const redisCpu = redisUrl === undefined ? undefined : cpuMeter([Number(new URL(redisUrl).port)])
  const commandsBefore = info === undefined ? 0 : await totalCommands(info)
  const redisBefore = (await redisCpu?.read()) ?? 0
  const cpuBefore = process.cpuUsage()
  const sessions: Session[] = []
  const ready: Array<Promise<void>> = []
  let live = 0
  const started = performance.now()
  // 10 reconnects a millisecond for a second; an event every 10 ms.
  for (let ms = 0; ms < 1000; ms++) {
    for (let i = 0; i < CLIENTS / 1000; i++) {
      const session = createSession(sink(), { retry: false, heartbeat: false, lastEventId: lastId })
      sessions.push(session)
      ready.push(hub.subscribe(session, TOPIC).ready)
    }
    if (ms % 10 === 0) {
      hub.publish(TOPIC, { seq: BEHIND + ++live, text: 'live' }).catch(() => {
        failedPublishes++
      })
    }
    const due = started + ms + 1
    while (performance.now() < due) await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.all(ready)
  const cpu = process.cpuUsage(cpuBefore)
  const commands = info === undefined ? 0 : (await totalCommands(info)) - commandsBefore
  const redisMicros = ((await redisCpu?.read()) ?? 0) - redisBefore
  // Every session got at least what it missed.
  if (frames.bytes < (CLIENTS - gaps) * BEHIND * 40) {
    throw new Error(`the sessions got ${frames.bytes} bytes: too little for ${BEHIND} events each`)
  }
  for (const session of sessions) session.close()
  hub.close()
  await engine.close?.()
  info?.disconnect()
  redisCpu?.close()
  return {
    bytes: frames.bytes,
    cpuMicros: cpu.user + cpu.system,
    commands,
    redisMicros,
    gaps,
    failedPublishes,
  }
}

const ignore = (): void => undefined

async function totalCommands(redis: Redis): Promise<number> {
  const stats = await redis.info('stats')
  return Number(/^total_commands_processed:(\d+)/m.exec(stats)![1])
}

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}
