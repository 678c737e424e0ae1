/**
 * Question: what does one `session.send(json, { event, id })` cost, from the
 * call to bytes on the socket, against the naive
 * `res.write(\`event: …\nid: …\ndata: ${JSON.stringify(x)}\n\n\`)` that
 * validates nothing? The per-connection path of token streaming and of any
 * handler that sends to its own client.
 *
 * - in process: both hand their frame to the same sink function, which only
 *   counts; ours goes through the session (serialize, validate the event name
 *   and id, frame, heartbeat clock, backpressure state).
 * - socket: a real node:http server on 127.0.0.1 and a client in another
 *   process that reads and parses everything. The server writes 100,000
 *   events in bursts of 64 per turn, waiting for `drain` when the socket is
 *   full, the same loop for both; the row is the serving process's CPU
 *   (`process.cpuUsage`, user + system, so the kernel's TCP work is in it)
 *   per event. Rounds alternate ours and naive; median of 7 and the spread.
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createSession } from '@sse/core'
import { sse } from '@sse/node-http'
import { compare, formatRatio, median, type Row, spread, type Task } from './measure'

export const question = 'send'
export const cases = ['in process', 'node:http socket'] as const

const VARIANTS = 1024
const BATCH = 1024
const SOCKET_EVENTS = 100_000
const BURST = 64
const ROUNDS = 7

/** About 150 bytes of JSON, a fresh object per event as an app would build it. */
function payload(i: number) {
  return {
    type: 'order.updated',
    orderId: `ord_${i * 7919}`,
    status: i % 2 === 0 ? 'shipped' : 'processing',
    total: Math.round(i * 1337) / 100,
    currency: 'EUR',
    items: 1 + (i % 5),
    updatedAt: new Date(1_700_000_000_000 + i * 60_000).toISOString(),
  }
}

const NAIVE = 'naive: template string, no validation'

/** The naive contender's frame: a template string, nothing validated. */
function naiveFrame(id: string | number, data: unknown): string {
  return `event: order\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`
}
const OURS = 'ours: session.send(json, { event, id })'

export async function run(name: string): Promise<Row[]> {
  return name === 'in process' ? inProcess() : await overSocket()
}

function inProcess(): Row[] {
  const objects = Array.from({ length: VARIANTS }, (_, i) => payload(i))
  const ids = objects.map((_, i) => String(100_000 + i))
  let bytes = 0
  const write = (frame: string | Uint8Array): boolean => {
    bytes += frame.length
    return true
  }
  const session = createSession(
    { write, onDrain: () => undefined, close: () => undefined, onClientGone: () => undefined },
    { retry: false, heartbeat: 15_000 },
  )
  let next = 0
  const tasks: Task[] = [
    {
      name: OURS,
      fn: () => {
        for (let i = 0; i < BATCH; i++) {
          const k = next++ & (VARIANTS - 1)
          session.send(objects[k], { event: 'order', id: ids[k]! })
        }
        return BATCH
      },
      expected: BATCH,
    },
    {
      name: NAIVE,
      fn: () => {
        for (let i = 0; i < BATCH; i++) {
          const k = next++ & (VARIANTS - 1)
          write(naiveFrame(ids[k]!, objects[k]))
        }
        return BATCH
      },
      expected: BATCH,
    },
  ]
  const measured = compare(tasks)
  session.close()
  if (bytes === 0) throw new Error('send: nothing was written')
  const [ours, naive] = measured as [(typeof measured)[0], (typeof measured)[0]]
  const frameBytes =
    objects.reduce((sum, o, i) => sum + naiveFrame(ids[i]!, o).length, 0) / VARIANTS
  return measured.map((m) => ({
    question,
    case: `in process, ${Math.round(frameBytes)}-byte frames of JSON with event and id`,
    contender: m.name,
    bytesPerSec: (BATCH * frameBytes * 1e9) / m.nsPerIteration,
    eventsPerSec: (BATCH * 1e9) / m.nsPerIteration,
    spread: spread(m),
    ratio: m === ours ? '' : `ours / this = ${formatRatio(ours, naive)}`,
    note: `${((m.nsPerIteration / BATCH) | 0).toLocaleString('en-US')} ns per event`,
  }))
}

type Contender = 'ours' | 'naive'

/**
 * Writes SOCKET_EVENTS events in bursts, then ends the stream. After a burst
 * it waits for the socket's `drain` while the writer is behind: the socket
 * holds more than 64 kB, or (ours) the session is queueing.
 */
async function pump(
  socket: Socket,
  send: (i: number) => void,
  behind: () => boolean,
  end: () => void,
): Promise<void> {
  for (let i = 0; i < SOCKET_EVENTS; ) {
    for (let k = 0; k < BURST && i < SOCKET_EVENTS; k++, i++) send(i)
    await new Promise((resolve) => setImmediate(resolve))
    if (behind() || socket.writableLength > 64 * 1024) await once(socket, 'drain')
  }
  end()
}

async function overSocket(): Promise<Row[]> {
  const objects = Array.from({ length: VARIANTS }, (_, i) => payload(i))
  let contender: Contender = 'ours'
  let started: NodeJS.CpuUsage | undefined
  const handler = sse(
    (session, { res }) => {
      started = process.cpuUsage()
      void pump(
        res.socket!,
        (i) => session.send(objects[i & (VARIANTS - 1)], { event: 'order', id: String(i) }),
        () => session.queuedBytes > 0,
        () => session.close(),
      )
    },
    { retry: false },
  )
  const naive = (res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    started = process.cpuUsage()
    void pump(
      res.socket!,
      (i) => res.write(naiveFrame(i, objects[i & (VARIANTS - 1)])),
      () => false,
      () => res.end(),
    )
  }
  const server = createServer((req, res) => (contender === 'ours' ? handler(req, res) : naive(res)))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  const client = fileURLToPath(new URL('./send-client.ts', import.meta.url))

  const samples: Record<Contender, number[]> = { ours: [], naive: [] }
  let bytes = 0
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      for (const which of round % 2 === 0
        ? (['ours', 'naive'] as const)
        : (['naive', 'ours'] as const)) {
        contender = which
        started = undefined
        const child = fork(client, [url], { execArgv: ['--import', 'tsx'] })
        const [report] = (await once(child, 'message')) as [{ bytes: number; events: number }]
        const used = process.cpuUsage(started)
        await once(child, 'exit')
        if (report.events !== SOCKET_EVENTS) {
          throw new Error(`send: ${which} delivered ${report.events} of ${SOCKET_EVENTS} events`)
        }
        bytes = report.bytes
        // Round 0 warms both paths up and is not counted.
        if (round > 0) samples[which].push(((used.user + used.system) * 1000) / SOCKET_EVENTS)
      }
    }
  } finally {
    server.close()
    server.closeAllConnections()
  }
  const ours = median(samples.ours)
  return (['ours', 'naive'] as const).map((which) => {
    const ns = median(samples[which])
    const m = { name: which, nsPerIteration: ns, iterationsPerSample: 1, samples: samples[which] }
    return {
      question,
      case: `node:http socket, ${SOCKET_EVENTS.toLocaleString('en-US')} events in bursts of ${BURST}, server CPU per event`,
      contender: which === 'ours' ? OURS : NAIVE,
      bytesPerSec: (bytes / SOCKET_EVENTS / ns) * 1e9,
      eventsPerSec: 1e9 / ns,
      spread: spread(m),
      ratio: which === 'ours' ? '' : `ours / this = ${(ns / ours).toFixed(2)}x`,
      note: `${Math.round(ns).toLocaleString('en-US')} ns CPU per event`,
    }
  })
}
