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
  'bun-web': "ours, Web binding: core's sse() on Bun.serve + core hub",
  'bun-web-floor': 'Web floor on Bun: one Uint8Array enqueued to each bare ReadableStream',
  'deno-web': "ours, Web binding: core's sse() on Deno.serve + core hub",
  'deno-web-floor': 'Web floor on Deno: one Uint8Array enqueued to each bare ReadableStream',
} as const

/** The runtime a contender's server runs on (`fanout-web-server.ts`): Node unless named here. */
export const RUNTIMES = {
  'bun-web': 'bun',
  'bun-web-floor': 'bun',
  'deno-web': 'deno',
  'deno-web-floor': 'deno',
} as const satisfies Partial<Record<ContenderId, 'bun' | 'deno'>>

/** The contenders `fanout-server.ts` serves on Node. */
export type NodeContenderId = Exclude<ContenderId, keyof typeof RUNTIMES>

/** The runtime `id`'s server runs on. */
export function runtimeOf(id: ContenderId): 'node' | 'bun' | 'deno' {
  return (RUNTIMES as Partial<Record<ContenderId, 'bun' | 'deno'>>)[id] ?? 'node'
}

export type ContenderId = keyof typeof CONTENDERS

export function isContender(value: string | undefined): value is ContenderId {
  return value !== undefined && Object.hasOwn(CONTENDERS, value)
}

/** A contender `fanout-server.ts` serves, on Node. */
export function isNodeContender(value: string | undefined): value is NodeContenderId {
  return isContender(value) && runtimeOf(value) === 'node'
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

/** The response head of the contenders written by hand. */
export const SSE_HEAD = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
}

/** The event as the floors and the naive loop write it, by hand. */
export function frame(seq: number, sentAt: number): string {
  return `event: ${EVENT_NAME}\nid: ${seq}\ndata: ` + JSON.stringify(payload(seq, sentAt)) + '\n\n'
}

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
  // `start`: a round begins here: collect garbage, then count CPU from now
  // on. A round of one event at a time is several of these commands, only
  // the first of them `start`, so that each event's garbage is paid for and
  // the CPU between its events (the parent's messages) is counted too.
  | { type: 'round'; events: number; firstSeq: number; start: boolean }
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

/** What a server process's contender does, whichever runtime serves it. */
export interface ServedContender {
  /** Connections that completed the SSE handshake. */
  connections(): number
  /** Broadcasts one event; returns how many connections it was written to. */
  publish(seq: number, sentAt: number): number | Promise<number>
}

/**
 * Answers the parent's commands in a server process (`fanout-server.ts` on
 * Node, `fanout-web-server.ts` on Bun and Deno): memory after a full
 * collection, rounds of events published through `pace`, CPU time since the
 * round began, exit.
 */
export function answerCommands(
  contender: ServedContender,
  runtime: {
    /** A full garbage collection, where the runtime exposes one. */
    collect(): void
    /** Resolves when the next event may be published. */
    pace(): Promise<void>
    exit(): void
  },
): void {
  const reply = (message: ServerReply): void => {
    process.send!(message)
  }
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
  let cpuStart: NodeJS.CpuUsage | undefined

  const round = async (events: number, firstSeq: number, start: boolean): Promise<void> => {
    if (start) {
      runtime.collect()
      cpuStart = process.cpuUsage()
    }
    let firstPublishUs = 0
    let delivered = 0
    for (let k = 0; k < events; k++) {
      const sentAt = epochUs()
      if (k === 0) firstPublishUs = sentAt
      delivered += await contender.publish(firstSeq + k, sentAt)
      await runtime.pace()
    }
    reply({ type: 'published', firstPublishUs, delivered })
  }

  process.on('message', (command: ServerCommand) => {
    switch (command.type) {
      case 'rss':
        void (async () => {
          // Let connection set-up garbage die, so RSS reflects what stays.
          for (let i = 0; i < 3; i++) {
            runtime.collect()
            await sleep(20)
          }
          const { rss, heapUsed } = process.memoryUsage()
          reply({ type: 'rss', rss, heapUsed, connections: contender.connections() })
        })()
        break
      case 'round':
        void round(command.events, command.firstSeq, command.start)
        break
      case 'end': {
        // Since the round's start.
        const cpu = process.cpuUsage(cpuStart)
        reply({ type: 'cpu', cpuUs: cpu.user + cpu.system })
        break
      }
      case 'exit':
        runtime.exit()
    }
  })
}

/** Tells the parent the server listens. */
export function listening(port: number): void {
  process.send!({ type: 'listening', port, fileLimit: openFileLimit() } satisfies ServerReply)
}

/**
 * A Web floor: one bare `ReadableStream` per request, no pull; a broadcast
 * encodes the frame once and enqueues the same bytes to every stream.
 * `opening`: a first chunk for every stream (Bun completes a streaming
 * response's head only with the body's first chunk).
 */
export function bareStreams(opening?: Uint8Array): ServedContender & { fetch(): Response } {
  const controllers = new Set<ReadableStreamDefaultController<Uint8Array>>()
  const encoder = new TextEncoder()
  return {
    fetch() {
      let controller!: ReadableStreamDefaultController<Uint8Array>
      const body = new ReadableStream<Uint8Array>(
        {
          start(started) {
            controller = started
            controllers.add(started)
            if (opening !== undefined) started.enqueue(opening)
          },
          cancel() {
            controllers.delete(controller)
          },
        },
        { highWaterMark: 0 },
      )
      return new Response(body, { headers: SSE_HEAD })
    },
    connections: () => controllers.size,
    publish(seq, sentAt) {
      const bytes = encoder.encode(frame(seq, sentAt))
      for (const controller of controllers) controller.enqueue(bytes)
      return controllers.size
    },
  }
}
