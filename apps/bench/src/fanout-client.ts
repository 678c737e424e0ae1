/**
 * The fan-out question's clients, in their own process (run by `fanout.ts`
 * with a raised open-file limit): `node fanout-client.ts <port>`.
 *
 * Raw sockets, not an EventSource: each connection writes one `GET`, waits
 * for the response head, then only searches its bytes for `{"seq":` and reads
 * the two integers that follow (the event's sequence number and its send time).
 * That is enough to check that every connection got every event exactly once
 * and in order, and to time each, while the client does as little as it can
 * so that it is not what limits the server.
 */
import { connect, type Socket } from 'node:net'
import {
  type ClientCommand,
  type ClientReply,
  epochUs,
  openFileLimit,
  reportFailures,
} from './fanout-shared'

reportFailures()

const port = Number(process.argv[2])
if (!(port > 0)) throw new Error('fanout-client: usage: fanout-client.ts <port>')

const REQUEST = Buffer.from(
  `GET /events HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\naccept: text/event-stream\r\n\r\n`,
)
const MARK = Buffer.from('{"seq":')
const SENT_AT = Buffer.from(',"sentAt":')
const OPEN_BRACE = 0x7b
const DIGIT_0 = 0x30
const DIGIT_9 = 0x39
// Connections being opened at once: fewer than the listen backlog, so no SYN
// is dropped (a dropped SYN is retried a whole second later).
const CONNECTING = 256

// Every socket reads into this one buffer (`onread`): no Buffer per read, and
// each read is handled synchronously before the next one reuses it.
const readBuffer = Buffer.allocUnsafe(64 * 1024)

interface Connection {
  socket: Socket
  /** The response head until it is complete, then `undefined`. */
  head: string | undefined
  /** The start of an event cut off by the end of the last read (copied). */
  carry: Buffer | undefined
  nextSeq: number
  /** Events received this round. */
  received: number
}

const connections: Connection[] = []
let exiting = false

// The current round.
let target = 0
let pending = 0
let latencies = new Float64Array(0)
let count = 0
let bytes = 0
let cpuStart: NodeJS.CpuUsage | undefined

function reply(message: ClientReply): void {
  process.send!(message)
}

function fail(message: string): never {
  throw new Error(`fanout-client: ${message}`)
}

function onRead(conn: Connection, length: number): void {
  const now = epochUs()
  let chunk = readBuffer.subarray(0, length)
  if (conn.head !== undefined) {
    const before = conn.head.length
    conn.head += chunk.toString('latin1', 0, length)
    const end = conn.head.indexOf('\r\n\r\n')
    if (end === -1) return
    if (!conn.head.startsWith('HTTP/1.1 200')) fail(`unexpected head ${conn.head}`)
    conn.head = undefined
    onOpen()
    // latin1: one character per byte, so string offsets are byte offsets.
    chunk = chunk.subarray(end + 4 - before)
    if (chunk.length === 0) return
  }
  bytes += chunk.length
  scan(conn, chunk, now)
}

/** Counts and times every complete event in `chunk`; keeps a cut-off one for the next read. */
function scan(conn: Connection, chunk: Buffer, now: number): void {
  let data = chunk
  if (conn.carry !== undefined) {
    data = Buffer.concat([conn.carry, chunk])
    conn.carry = undefined
  }
  const end = data.length
  let pos = 0
  for (;;) {
    const at = data.indexOf(MARK, pos)
    if (at === -1) {
      // A marker may start in the last few bytes and end in the next read.
      for (let i = Math.max(pos, end - MARK.length + 1); i < end; i++) {
        if (data[i] === OPEN_BRACE) {
          conn.carry = Buffer.from(data.subarray(i))
          break
        }
      }
      return
    }
    let i = at + MARK.length
    let seq = 0
    while (i < end && data[i]! >= DIGIT_0 && data[i]! <= DIGIT_9)
      seq = seq * 10 + data[i++]! - DIGIT_0
    let sentAt = 0
    let complete = i + SENT_AT.length < end
    if (complete) {
      for (let k = 0; k < SENT_AT.length; k++) {
        if (data[i + k] !== SENT_AT[k]) fail(`malformed event at seq ${seq}`)
      }
      i += SENT_AT.length
      while (i < end && data[i]! >= DIGIT_0 && data[i]! <= DIGIT_9) {
        sentAt = sentAt * 10 + data[i++]! - DIGIT_0
      }
      // A number is only known to be whole once a non-digit follows it.
      complete = i < end
    }
    if (!complete) {
      conn.carry = Buffer.from(data.subarray(at))
      return
    }
    onEvent(conn, seq, sentAt, now)
    pos = i
  }
}

function onEvent(conn: Connection, seq: number, sentAt: number, now: number): void {
  if (seq !== conn.nextSeq) fail(`expected event ${conn.nextSeq}, got ${seq}`)
  if (conn.received >= target) fail(`event ${seq} beyond the ${target} expected`)
  conn.nextSeq++
  latencies[count++] = now - sentAt
  if (++conn.received === target && --pending === 0) finish(now)
}

function finish(lastReceiveUs: number): void {
  const cpu = process.cpuUsage(cpuStart)
  const sorted = latencies.subarray(0, count).sort()
  const rank = (p: number): number => sorted[Math.min(count - 1, Math.floor(p * count))]!
  reply({
    type: 'received',
    events: count,
    bytes,
    lastReceiveUs,
    p50Us: rank(0.5),
    p99Us: rank(0.99),
    cpuUs: cpu.user + cpu.system,
  })
}

let opened = 0
let onOpen = (): void => undefined

function connectAll(total: number): Promise<void> {
  return new Promise((resolve) => {
    let started = 0
    const launch = (): void => {
      while (started < total && started - opened < CONNECTING) {
        started++
        open()
      }
    }
    onOpen = () => {
      opened++
      if (opened === total) resolve()
      else launch()
    }
    launch()
  })
}

function open(): void {
  const conn: Connection = {
    socket: undefined as unknown as Socket,
    head: '',
    carry: undefined,
    nextSeq: 0,
    received: 0,
  }
  conn.socket = connect({
    host: '127.0.0.1',
    port,
    noDelay: true,
    onread: {
      buffer: readBuffer,
      callback: (length) => {
        onRead(conn, length)
        return true
      },
    },
  })
  conn.socket.once('connect', () => conn.socket.write(REQUEST))
  conn.socket.on('error', (error) => {
    if (!exiting) fail(`connection ${connections.indexOf(conn)}: ${error.message}`)
  })
  conn.socket.on('close', () => {
    if (!exiting) fail(`connection ${connections.indexOf(conn)} closed by the server`)
  })
  connections.push(conn)
}

process.on('message', (command: ClientCommand) => {
  switch (command.type) {
    case 'connect':
      void connectAll(command.connections).then(() =>
        reply({ type: 'connected', connections: opened }),
      )
      break
    case 'expect': {
      target = command.events
      pending = connections.length
      const size = connections.length * target
      if (latencies.length < size) latencies = new Float64Array(size)
      count = 0
      bytes = 0
      for (const conn of connections) conn.received = 0
      cpuStart = process.cpuUsage()
      reply({ type: 'expecting' })
      break
    }
    case 'exit':
      exiting = true
      // RST, not FIN: no TIME_WAIT left holding thousands of ephemeral ports.
      for (const conn of connections) conn.socket.resetAndDestroy()
      process.exit(0)
  }
})

reply({ type: 'ready', fileLimit: openFileLimit() })
