/**
 * Question: with N clients connected over loopback, how fast do events reach
 * them all, at what server CPU per delivered event, with what
 * publish-to-receive latency, and how much memory does an idle connection
 * take? Ours (`@sse/node-http` sessions in a core hub, one topic) against
 * better-sse's `Channel` on node:http, a naive loop of `res.write(template)`
 * over an array of responses, and the floor: a `net.Server` that answers the
 * HTTP head once, then writes one pre-built `Buffer` to every raw socket.
 * On Hono (`@hono/node-server`): ours through `@sse/hono/node` (Node's
 * response) and `@sse/hono` (the Web stream), Hono's own `streamSSE`, and the
 * Web floor: a bare `ReadableStream` per connection, each broadcast one
 * `Uint8Array` enqueued to every stream, what any Web stream there costs at
 * least (the server reads each with `reader.read()`, writes it through
 * `ServerResponse.write`).
 *
 * On Bun and Deno (`fanout-web-server.ts`, bundled into one file as a user's
 * bundler would): ours through core's plain Web binding, `sse()` served by
 * `Bun.serve` or `Deno.serve`, and each runtime's Web floor. They are in a
 * case of their own, with ours on node-http and the Web paths on
 * `@hono/node-server` for reference, paced one event at a time (below).
 *
 * Processes: this one orchestrates. Each contender's server runs in its own
 * process (`fanout-server.ts`), and so do its clients (`fanout-client.ts`:
 * raw sockets that only count events and read their timestamps). Children
 * start through `bash -c 'ulimit -n …'`, as the open-file limit is a shell
 * builtin. All servers stay up while rounds alternate between them in
 * rotating order, so load from other processes falls on every contender alike.
 *
 * Pacing, the same for all contenders of a case: as fast as the sockets
 * drain, except in the Web runtimes' case (one event at a time: see SIZES,
 * and `round`; there the Node servers still wait for their sockets too,
 * which costs them a scan of 10,000 sockets per event, ~0.02 µs per
 * delivery). Draining: the server publishes
 * an event, gives the event loop a turn, waits while any socket still holds
 * bytes in user land, then publishes the next. A saturating rate, because the
 * question is how many events a server can deliver; a fixed rate would give
 * every contender the same events/s. Latency is therefore measured under full
 * load: an event waits for its own fan-out loop (and the client's reading).
 *
 * Per round of M events to N clients, all checked to arrive exactly once and
 * in order:
 * - events/s: N × M over the time from the first publish to the last event
 *   received (both as epoch time, below);
 * - server CPU per event: the server's `process.cpuUsage()` (user + system)
 *   from the start of the round until the client has every event, over N × M;
 * - latency p50/p99: receive time minus the send time carried in each event,
 *   over all N × M deliveries (one event at a time: the median over the
 *   events of each event's p50 and p99). Both processes read `performance.timeOrigin +
 *   performance.now()` (see `epochUs`): microseconds, on one time base across
 *   processes of one machine, where `Date.now()` has whole milliseconds and
 *   `process.hrtime` a per-process origin.
 * Rows report the median of the rounds; spread is over events/s. Memory is
 * measured once, before any round: (RSS with N idle clients − RSS before
 * connecting) / N, each after a full GC.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { bundleForRuntime, toolBin, webRuntimeDir } from '@sse/test-utils/runtimes'
import {
  type ClientCommand,
  type ClientReply,
  CONTENDERS,
  type ContenderId,
  runtimeOf,
  type ServerCommand,
  type ServerReply,
} from './fanout-shared'
import { median, type Row } from './measure'

export const question = 'fanout'

// Few events per round: a delivery costs 8-25 µs of server CPU and 6-8 µs of
// client CPU on loopback (most of it in the kernel), and eight contenders ×
// four rounds must fit in a few minutes per case. Longer rounds change
// little: the client keeps up, so latency is one fan-out loop, not a backlog.
//
// The last case asks how the Web binding fares where it is the native path,
// on Bun and Deno, where no socket is visible to pace by: every row of it
// goes one event at a time (published once every client has the one
// before), so no contender's frames can pile up and leave in fewer writes.
// Its latencies are those of one event reaching every connection, and its
// events/s is the rate of deliveries while an event fans out.
const SIZES = {
  '1,000 connections': { connections: 1_000, events: 100, oneAtATime: false },
  '5,000 connections': { connections: 5_000, events: 40, oneAtATime: false },
  '10,000 connections': { connections: 10_000, events: 30, oneAtATime: false },
  '10,000 connections, Web runtimes, one event at a time': {
    connections: 10_000,
    events: 30,
    oneAtATime: true,
  },
} as const

/** Each Web floor, and ours on a Web stream on the same server. */
const WEB_FLOORS: Partial<Record<ContenderId, ContenderId>> = {
  'web-floor': 'hono-web',
  'bun-web-floor': 'bun-web',
  'deno-web-floor': 'deno-web',
}

/** The contenders of the Web runtimes' case: ours on Node for reference, then the Web paths. */
const WEB_CASE: readonly ContenderId[] = [
  'ours',
  'hono-web',
  'web-floor',
  'bun-web',
  'bun-web-floor',
  'deno-web',
  'deno-web-floor',
]

export const cases = Object.keys(SIZES) as (keyof typeof SIZES)[]

/** Measured rounds per contender (after one warm-up round of a fifth as many events). */
const ROUNDS = 3
const WANTED_FILE_LIMIT = 65_536
const APP_DIR = fileURLToPath(new URL('..', import.meta.url))
const SERVER = fileURLToPath(new URL('./fanout-server.ts', import.meta.url))
const WEB_SERVER = fileURLToPath(new URL('./fanout-web-server.ts', import.meta.url))
const CLIENT = fileURLToPath(new URL('./fanout-client.ts', import.meta.url))
// Set to a directory to write each server's `--cpu-prof` profiles under it.
const CPU_PROF_DIR = process.env['FANOUT_CPU_PROF']
// Set to a comma-separated list of contenders (`ours,floor`) to run only
// those, for a quicker look at a change; ours always runs, as every ratio is
// against it. The published tables come from runs of all of them.
const ONLY = process.env['FANOUT_CONTENDERS']

/** The open-file limit children can raise theirs to: the hard limit, at most 65,536. */
function fileLimit(): number {
  const hard = execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()
  return hard === 'unlimited' ? WANTED_FILE_LIMIT : Math.min(WANTED_FILE_LIMIT, Number(hard))
}

/** A child process spoken to over IPC; its replies are taken in order, by type. */
class Child<Command, Reply extends { type: string }> {
  readonly #process: ChildProcess
  readonly #inbox: Reply[] = []
  #wake: (() => void) | undefined
  #failure: Error | undefined
  #stderr = ''

  /** `command`: the program and its arguments (see {@link onNode}). */
  constructor(
    readonly name: string,
    command: string[],
    limit: number,
  ) {
    // `ulimit` is a shell builtin: raise the limit in bash, then exec the
    // runtime in its place (same pid, same IPC descriptor).
    this.#process = spawn(
      'bash',
      ['-c', 'ulimit -n "$0" && exec "$@"', String(limit), ...command],
      {
        cwd: APP_DIR,
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      },
    )
    this.#process.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000)
    })
    this.#process.on('message', (message: Reply) => {
      if (message.type === 'error') {
        this.#fail(new Error(`${name}: ${(message as unknown as { message: string }).message}`))
      } else {
        this.#inbox.push(message)
      }
      this.#wake?.()
    })
    this.#process.on('exit', (code) => {
      this.#fail(new Error(`${name} exited (${code}): ${this.#stderr}`))
      this.#wake?.()
    })
  }

  #fail(error: Error): void {
    this.#failure ??= error
  }

  send(command: Command): void {
    this.#process.send(command as object)
  }

  /** The next reply of this type; throws if the child fails or `seconds` pass first. */
  async next<T extends Reply['type']>(
    type: T,
    seconds: number,
  ): Promise<Extract<Reply, { type: T }>> {
    const deadline = Date.now() + seconds * 1000
    for (;;) {
      const index = this.#inbox.findIndex((message) => message.type === type)
      if (index !== -1) return this.#inbox.splice(index, 1)[0] as Extract<Reply, { type: T }>
      if (this.#failure !== undefined) throw this.#failure
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${this.name}: no '${type}' within ${seconds} s`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
    }
  }

  /** Asks the child to exit; kills it (by its pid) if it has not within 5 s. */
  stop(command: Command): void {
    if (this.#process.exitCode !== null || !this.#process.connected) return
    this.#process.removeAllListeners('exit')
    this.send(command)
    setTimeout(() => {
      if (this.#process.exitCode === null) this.#process.kill('SIGKILL')
    }, 5000).unref()
  }
}

/** `script` on this Node, with this process's flags (the tsx loader, --expose-gc). */
function onNode(script: string, args: string[], nodeArgs: string[] = []): string[] {
  return [process.execPath, ...process.execArgv, ...nodeArgs, script, ...args]
}

/**
 * The command that runs a contender's server: `fanout-server.ts` on Node, or
 * `fanout-web-server.ts`, bundled once per run, on Bun or Deno.
 */
async function serverCommand(id: ContenderId, nodeArgs: string[]): Promise<string[]> {
  const runtime = runtimeOf(id)
  if (runtime === 'node') return onNode(SERVER, [id], nodeArgs)
  webServer ??= (async () => {
    const dir = await webRuntimeDir()
    const file = await bundleForRuntime(dir, WEB_SERVER, {
      name: 'fanout-web-server',
      nodeModules: true,
    })
    return { dir, file }
  })()
  const { dir, file } = await webServer
  return runtime === 'bun'
    ? [toolBin(dir, 'bun'), file, id]
    : [toolBin(dir, 'deno'), 'run', '-A', '--v8-flags=--expose-gc', file, id]
}
let webServer: Promise<{ dir: string; file: string }> | undefined

interface Round {
  eventsPerSec: number
  bytesPerSec: number
  serverCpuUsPerEvent: number
  /** The client's CPU time over the round's wall time: near 1, it would be the limit. */
  clientBusy: number
  p50Us: number
  p99Us: number
}

interface Contender {
  id: ContenderId
  server: Child<ServerCommand, ServerReply>
  client: Child<ClientCommand, ClientReply>
  nextSeq: number
  rssPerConnection: number
  /** The part of it in V8's heap (objects still reachable after a full GC). */
  heapPerConnection: number
  rounds: Round[]
}

async function connect(contender: Contender, connections: number): Promise<void> {
  const { server, client } = contender
  const before = await server.next('rss', 30)
  if (before.connections !== 0) throw new Error(`${contender.id}: connections before connecting`)
  client.send({ type: 'connect', connections })
  const connected = await client.next('connected', 120)
  if (connected.connections !== connections) {
    throw new Error(`${contender.id}: ${connected.connections} of ${connections} connected`)
  }
  // The client saw every response head; the server may still be registering
  // the last sessions (better-sse joins on the next event-loop turn).
  for (let attempt = 0; ; attempt++) {
    server.send({ type: 'rss' })
    const idle = await server.next('rss', 30)
    if (idle.connections === connections) {
      contender.rssPerConnection = (idle.rss - before.rss) / connections
      contender.heapPerConnection = (idle.heapUsed - before.heapUsed) / connections
      return
    }
    if (attempt === 10) {
      throw new Error(`${contender.id}: server has ${idle.connections} of ${connections}`)
    }
  }
}

/** `events` events to every connection, as fast as the sockets drain, or one at a time. */
async function round(
  contender: Contender,
  connections: number,
  events: number,
  oneAtATime: boolean,
): Promise<Round> {
  if (!oneAtATime) return await exchange(contender, connections, events, true)
  const parts: Exchanged[] = []
  for (let k = 0; k < events; k++) parts.push(await exchange(contender, connections, 1, k === 0))
  // Sums over the events, and the median event's latencies. The server's CPU
  // is one reading from the round's start to its last event (it includes
  // the messages between events, a few per event, against 10,000 deliveries).
  const seconds = parts.reduce((sum, part) => sum + part.seconds, 0)
  const deliveries = connections * events
  return {
    eventsPerSec: deliveries / seconds,
    bytesPerSec: parts.reduce((sum, part) => sum + part.bytes, 0) / seconds,
    serverCpuUsPerEvent: parts.at(-1)!.cpuUs / deliveries,
    clientBusy: parts.reduce((sum, part) => sum + part.clientCpuUs, 0) / (seconds * 1e6),
    p50Us: median(parts.map((part) => part.p50Us)),
    p99Us: median(parts.map((part) => part.p99Us)),
  }
}

/** `cpuUs`: the server's, since the start of its round (for one event at a time, of all of them so far). */
type Exchanged = Round & { seconds: number; bytes: number; cpuUs: number; clientCpuUs: number }

/** One round as the server and the client measured it. */
async function exchange(
  contender: Contender,
  connections: number,
  events: number,
  start: boolean,
): Promise<Exchanged> {
  const { server, client } = contender
  client.send({ type: 'expect', events })
  await client.next('expecting', 30)
  server.send({ type: 'round', events, firstSeq: contender.nextSeq, start })
  contender.nextSeq += events
  const [published, received] = await Promise.all([
    server.next('published', 150),
    client.next('received', 150),
  ])
  server.send({ type: 'end' })
  const { cpuUs } = await server.next('cpu', 30)
  const deliveries = connections * events
  // Rows that measured nothing throw here instead.
  if (published.delivered !== deliveries || received.events !== deliveries) {
    throw new Error(
      `${contender.id}: wrote ${published.delivered}, received ${received.events}, want ${deliveries}`,
    )
  }
  const seconds = (received.lastReceiveUs - published.firstPublishUs) / 1e6
  return {
    seconds,
    bytes: received.bytes,
    cpuUs,
    clientCpuUs: received.cpuUs,
    eventsPerSec: deliveries / seconds,
    bytesPerSec: received.bytes / seconds,
    serverCpuUsPerEvent: cpuUs / deliveries,
    clientBusy: received.cpuUs / (seconds * 1e6),
    p50Us: received.p50Us,
    p99Us: received.p99Us,
  }
}

/** Progress on stderr: `run.ts` keeps it out of the table, a direct `--case` run shows it. */
function log(line: string): void {
  process.stderr.write(`fanout ${((performance.now() - started) / 1000).toFixed(1)} s: ${line}\n`)
}
const started = performance.now()

function ms(us: number): string {
  return us >= 10_000 ? `${(us / 1000).toFixed(0)} ms` : `${(us / 1000).toFixed(1)} ms`
}

export async function run(caseName: string): Promise<Row[]> {
  const { connections, events, oneAtATime } = SIZES[caseName as keyof typeof SIZES]
  const limit = fileLimit()
  if (limit < connections + 100) {
    throw new Error(`fanout: open-file hard limit ${limit} is too low for ${connections} sockets`)
  }

  let ids = (
    oneAtATime
      ? WEB_CASE
      : (Object.keys(CONTENDERS) as ContenderId[]).filter((id) => runtimeOf(id) === 'node')
  ).filter((id) => ONLY === undefined || id === 'ours' || ONLY.split(',').includes(id))
  // Bun and Deno come from the npm registry: without them the case still
  // runs its Node rows, and says what is missing.
  let missing = ''
  if (ids.some((id) => runtimeOf(id) !== 'node')) {
    try {
      await webRuntimeDir()
    } catch (error) {
      missing = `; no Bun or Deno rows: they could not be installed (${(error as Error).message.split('\n')[0]})`
      log(missing.slice(2))
      ids = ids.filter((id) => runtimeOf(id) === 'node')
    }
  }
  const contenders: Contender[] = []
  try {
    for (const id of ids) {
      const profile =
        CPU_PROF_DIR === undefined
          ? []
          : // A directory each: the tsx loader thread writes a profile too.
            ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}/${id}-${connections}`]
      const server = new Child<ServerCommand, ServerReply>(
        `${id} server`,
        await serverCommand(id, profile),
        limit,
      )
      contenders.push({
        id,
        server,
        client: undefined as unknown as Child<ClientCommand, ClientReply>,
        nextSeq: 0,
        rssPerConnection: 0,
        heapPerConnection: 0,
        rounds: [],
      })
    }
    for (const contender of contenders) {
      const listening = await contender.server.next('listening', 60)
      if (listening.fileLimit < connections + 100) {
        throw new Error(`${contender.id} server: open-file limit ${listening.fileLimit}`)
      }
      // Baseline RSS, asked now so that connecting is the only change after it.
      contender.server.send({ type: 'rss' })
      contender.client = new Child(
        `${contender.id} client`,
        onNode(CLIENT, [String(listening.port)]),
        limit,
      )
    }
    for (const contender of contenders) {
      const ready = await contender.client.next('ready', 60)
      if (ready.fileLimit < connections + 100) {
        throw new Error(`${contender.id} client: open-file limit ${ready.fileLimit}`)
      }
      await connect(contender, connections)
      log(`${contender.id}: ${connections} connected`)
    }

    // A warm-up round each (JIT, socket buffers), then rounds in rotating order.
    for (const contender of contenders) {
      await round(contender, connections, Math.ceil(events / 5), oneAtATime)
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < contenders.length; k++) {
        const contender = contenders[(k + r) % contenders.length]!
        contender.rounds.push(await round(contender, connections, events, oneAtATime))
        log(`${contender.id}: round ${r + 1} of ${ROUNDS}`)
      }
    }
  } finally {
    for (const { client, server } of contenders) {
      client?.stop({ type: 'exit' })
      server.stop({ type: 'exit' })
    }
  }

  const summary = contenders.map((c) => {
    const of = (pick: (r: Round) => number) => median(c.rounds.map(pick))
    const eventsPerSec = of((r) => r.eventsPerSec)
    const values = c.rounds.map((r) => r.eventsPerSec)
    return {
      c,
      eventsPerSec,
      bytesPerSec: of((r) => r.bytesPerSec),
      spread: `±${Math.round(((Math.max(...values) - Math.min(...values)) / 2 / eventsPerSec) * 100)}%`,
      cpu: of((r) => r.serverCpuUsPerEvent),
      clientBusy: of((r) => r.clientBusy),
      p50: of((r) => r.p50Us),
      p99: of((r) => r.p99Us),
    }
  })
  const ours = summary[0]!
  // A Web floor bounds what any Web stream can cost on its server: ours on
  // that server is compared with it too.
  const webOn = (floor: ContenderId) => summary.find((s) => s.c.id === WEB_FLOORS[floor])
  const limitNote = limit < WANTED_FILE_LIMIT ? `, the hard limit; ${WANTED_FILE_LIMIT} wanted` : ''
  type Summary = (typeof summary)[number]
  const withWeb = (web: Summary | undefined, s: Summary): string =>
    web === undefined
      ? ''
      : `; ours on this Web stream / this = ${(web.cpu / s.cpu).toFixed(2)}x CPU/event, ` +
        `${(web.c.rssPerConnection / s.c.rssPerConnection).toFixed(2)}x RSS/conn`
  return summary.map((s) => ({
    question,
    case: `${caseName} × ${events} events, ${ROUNDS} rounds (ulimit -n ${limit}${limitNote}${missing})`,
    contender:
      `${CONTENDERS[s.c.id]} — server CPU ${s.cpu.toFixed(2)} µs/event, ` +
      `latency p50 ${ms(s.p50)} p99 ${ms(s.p99)}, ` +
      `idle RSS ${(s.c.rssPerConnection / 1000).toFixed(1)} kB/conn ` +
      `(heap ${(s.c.heapPerConnection / 1000).toFixed(1)} kB), ` +
      `client ${Math.round(s.clientBusy * 100)}% busy`,
    bytesPerSec: s.bytesPerSec,
    eventsPerSec: s.eventsPerSec,
    spread: s.spread,
    ratio:
      s === ours
        ? ''
        : `ours / this = ${(ours.eventsPerSec / s.eventsPerSec).toFixed(2)}x events/s, ` +
          `${(ours.cpu / s.cpu).toFixed(2)}x CPU/event, ` +
          `${(ours.c.rssPerConnection / s.c.rssPerConnection).toFixed(2)}x RSS/conn` +
          withWeb(webOn(s.c.id), s),
  }))
}
