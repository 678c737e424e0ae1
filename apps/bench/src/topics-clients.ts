/**
 * The topics question's clients, in their own process (run by `topics.ts`):
 * real HTTP SSE connections (`node:http`), each subscribed to a slice of the
 * topics (see `topics-shared.ts`), every stream parsed with core's
 * `createParser`.
 *
 * Every event must arrive exactly once per group, on the one connection of
 * that group subscribed to its topic: an event on a connection that did not
 * subscribe to its topic, twice, or a non-`message` event (a `resync`) fails
 * at once, and an event still missing when the round's time is up fails the
 * round with the count delivered, never a row.
 */
import { type ClientRequest, get } from 'node:http'
import type { Socket } from 'node:net'
import { createParser, type ParsedEvent } from '@sse/core'
import { epochUs, reportFailures } from './fanout-shared'
import {
  type ClientsCommand,
  type ClientsReply,
  GROUPS,
  pathOf,
  type Slice,
  slicesOf,
  type Tick,
} from './topics-shared'

reportFailures()

// Requests in flight at once while connecting: under the servers' listen
// backlog, so no SYN is dropped (a dropped SYN is retried a second later).
const CONNECTING = 128

interface Connection extends Slice {
  group: number
  request: ClientRequest
  socket: Socket | undefined
}

let connections: Connection[] = []
let closing = false

// The current round.
let firstSeq = 0
let events = 0
let seen = new Uint8Array(0)
let latencies = new Float64Array(0)
let deliveries = 0
let bytes = 0
let firstSentAt = Number.POSITIVE_INFINITY
let deadline: NodeJS.Timeout | undefined

function reply(message: ClientsReply): void {
  process.send!(message)
}

function fail(message: string): never {
  throw new Error(`topics-clients: ${message}`)
}

function onEvent(conn: Connection, event: ParsedEvent, now: number): void {
  if (event.type !== 'message') fail(`a '${event.type}' event: ${event.data}`)
  const tick = JSON.parse(event.data) as Tick
  if (tick.topic < conn.first || tick.topic >= conn.first + conn.count) {
    fail(`event ${tick.seq} of topic ${tick.topic} on a connection to ${conn.first}+${conn.count}`)
  }
  const k = tick.seq - firstSeq
  if (!(k >= 0 && k < events)) fail(`event ${tick.seq} is not one of this round's`)
  const slot = k * GROUPS + conn.group
  if (seen[slot] !== 0) fail(`event ${tick.seq} twice in group ${conn.group}`)
  seen[slot] = 1
  latencies[deliveries++] = now - tick.sentAt
  if (tick.sentAt < firstSentAt) firstSentAt = tick.sentAt
  if (deliveries === events * GROUPS) finish(now)
}

function finish(now: number): void {
  clearTimeout(deadline)
  const sorted = latencies.subarray(0, deliveries).sort()
  const rank = (p: number): number => sorted[Math.min(deliveries - 1, Math.floor(p * deliveries))]!
  reply({
    type: 'received',
    deliveries,
    bytes,
    p50Us: rank(0.5),
    p99Us: rank(0.99),
    spanUs: now - firstSentAt,
  })
}

function open(group: number, port: number, slice: Slice): Promise<void> {
  return new Promise((resolve) => {
    const request = get({
      host: '127.0.0.1',
      port,
      path: pathOf(slice),
      headers: { accept: 'text/event-stream' },
      // One socket per stream, never pooled or kept for reuse.
      agent: false,
    })
    const conn: Connection = { ...slice, group, request, socket: undefined }
    connections.push(conn)
    const gone = (why: string) => () => {
      if (!closing) fail(`connection ${group}/${slice.first}: ${why}`)
    }
    request.once('socket', (socket) => {
      conn.socket = socket
    })
    request.on('error', (error) => gone(error.message)())
    request.once('response', (response) => {
      if (response.statusCode !== 200) fail(`status ${response.statusCode} for ${pathOf(slice)}`)
      let now = 0
      const parser = createParser({ onEvent: (event) => onEvent(conn, event, now) })
      response.on('data', (chunk: Buffer) => {
        now = epochUs()
        bytes += chunk.length
        parser.feed(chunk)
      })
      response.on('error', (error) => gone(error.message)())
      response.once('end', gone('closed by the server'))
      resolve()
    })
  })
}

async function connectAll(topics: number, ports: number[]): Promise<void> {
  closing = false
  const work = ports.flatMap((port, group) =>
    slicesOf(topics).map((slice) => ({ group, port, slice })),
  )
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < work.length) {
      const { group, port, slice } = work[next++]!
      await open(group, port, slice)
    }
  }
  await Promise.all(Array.from({ length: CONNECTING }, lane))
}

function expect(command: Extract<ClientsCommand, { type: 'expect' }>): void {
  firstSeq = command.firstSeq
  events = command.events
  seen = new Uint8Array(events * GROUPS)
  latencies = new Float64Array(events * GROUPS)
  deliveries = 0
  bytes = 0
  firstSentAt = Number.POSITIVE_INFINITY
  deadline = setTimeout(() => {
    let missing = ''
    for (let slot = 0; slot < seen.length && missing.length < 200; slot++) {
      if (seen[slot] === 0) missing += ` ${firstSeq + Math.floor(slot / GROUPS)}/${slot % GROUPS}`
    }
    fail(`delivered ${deliveries} of ${events * GROUPS} in time; missing (seq/group):${missing}`)
  }, command.timeoutMs)
}

function disconnect(): void {
  closing = true
  // RST, not FIN: thousands of connections a round leave no TIME_WAIT behind.
  for (const conn of connections) {
    if (conn.socket !== undefined) conn.socket.resetAndDestroy()
    else conn.request.destroy()
  }
  connections = []
}

process.on('message', (command: ClientsCommand) => {
  switch (command.type) {
    case 'connect':
      void connectAll(command.topics, command.ports).then(() =>
        reply({ type: 'connected', connections: connections.length }),
      )
      break
    case 'expect':
      expect(command)
      reply({ type: 'expecting' })
      break
    case 'disconnect':
      disconnect()
      reply({ type: 'disconnected' })
      break
    case 'exit':
      disconnect()
      process.exit(0)
  }
})
