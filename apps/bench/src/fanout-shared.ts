/**
 * What the fan-out question's three kinds of process share: the contenders,
 * the event, the clock, and the messages they exchange over IPC.
 */
import { readFileSync } from 'node:fs'

export const CONTENDERS = {
  ours: 'ours: @sse/node-http + core hub',
  'better-sse': 'better-sse 0.16.1: Channel on node:http',
  naive: 'naive: res.write(template) over an array',
  floor: 'floor: one Buffer to each raw socket',
  'hono-node': 'ours on Hono: @sse/hono/node on @hono/node-server + core hub',
  'hono-web': 'ours on Hono, Web stream: @sse/hono on @hono/node-server + core hub',
  'hono-streamSSE': "Hono's streamSSE: writeSSE per stream on @hono/node-server",
  'web-floor':
    'Web floor: one Uint8Array enqueued to each bare ReadableStream, Hono on @hono/node-server',
} as const

export type ContenderId = keyof typeof CONTENDERS

export function isContender(value: string | undefined): value is ContenderId {
  return value !== undefined && Object.hasOwn(CONTENDERS, value)
}

/**
 * Microseconds since the Unix epoch, from `performance.timeOrigin` (the wall
 * clock sampled once when the process started, in µs) plus `performance.now()`
 * (monotonic). Server and client are separate processes on one machine: this
 * gives them one time base with sub-millisecond precision, where `Date.now()`
 * has whole milliseconds and `process.hrtime` has a per-process origin.
 */
export function epochUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000)
}

/**
 * The event every contender broadcasts: about 200 bytes of JSON. `seq` comes
 * first and `sentAt` second, so the client finds both with one marker search.
 */
export function payload(seq: number, sentAt: number) {
  return {
    seq,
    sentAt,
    type: 'notification',
    id: `ntf_${seq}`,
    user: { id: 'usr_48213', name: 'Ada Lovelace' },
    title: 'Your export is ready',
    body: 'The CSV export of 12,480 rows finished in 3.2 s.',
  }
}

export const EVENT_NAME = 'notification'

/** The soft limit on open files of this process, from `/proc/self/limits`. */
export function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))
  const soft = line?.split(/\s{2,}/)[1]
  return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft)
}

// Parent → server.
export type ServerCommand =
  | { type: 'rss' }
  | { type: 'round'; events: number; firstSeq: number }
  | { type: 'end' }
  | { type: 'exit' }

// Server → parent.
export type ServerReply =
  | { type: 'listening'; port: number; fileLimit: number }
  | { type: 'rss'; rss: number; heapUsed: number; connections: number }
  | { type: 'published'; firstPublishUs: number; delivered: number }
  | { type: 'cpu'; cpuUs: number }
  | { type: 'error'; message: string }

// Parent → client.
export type ClientCommand =
  | { type: 'connect'; connections: number }
  | { type: 'expect'; events: number }
  | { type: 'exit' }

// Client → parent.
export type ClientReply =
  | { type: 'ready'; fileLimit: number }
  | { type: 'connected'; connections: number }
  | { type: 'expecting' }
  | {
      type: 'received'
      events: number
      bytes: number
      lastReceiveUs: number
      p50Us: number
      p99Us: number
      cpuUs: number
    }
  | { type: 'error'; message: string }

/** Reports an uncaught failure to the parent, then exits. */
export function reportFailures(): void {
  const fail = (error: unknown): void => {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
    process.send?.({ type: 'error', message })
    process.exitCode = 1
    setTimeout(() => process.exit(1), 100)
  }
  process.on('uncaughtException', fail)
  process.on('unhandledRejection', fail)
}
