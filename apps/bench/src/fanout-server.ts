/**
 * One fan-out contender's server, in its own process (run by `fanout.ts`
 * with a raised open-file limit): `node fanout-server.ts <contender>`.
 *
 * Every contender serves `GET` on 127.0.0.1 and, on command, broadcasts
 * `events` events through the same pacing loop: publish one, give the event
 * loop a turn, wait while any socket still holds bytes in user land, publish
 * the next. The loop sees only the raw sockets (`server.on('connection')`), so
 * it paces every contender the same way whatever it does above them.
 */
import { createServer as createHttpServer, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type Server, type Socket } from 'node:net'
import { setImmediate, setTimeout } from 'node:timers/promises'
import { createAdaptorServer } from '@hono/node-server'
import { sse as honoSse } from '@sse/hono'
import { sse as honoNodeSse } from '@sse/hono/node'
import { sse } from '@sse/node-http'
import {
  createChannel as createBetterChannel,
  createSession as createBetterSession,
} from 'better-sse'
import { Hono } from 'hono'
import { type SSEStreamingApi, streamSSE } from 'hono/streaming'
import { hubContender } from './fanout-hub'
import {
  answerCommands,
  bareStreams,
  EVENT_NAME,
  frame,
  isNodeContender,
  listening,
  type NodeContenderId,
  payload,
  reportFailures,
  type ServedContender,
  SSE_HEAD,
} from './fanout-shared'

reportFailures()

interface Contender extends ServedContender {
  server: Server
}

function ours(): Contender {
  const contender = hubContender(sse)
  return { ...contender, server: createHttpServer(contender.handler) }
}

/** Ours on Hono on @hono/node-server, through one of @sse/hono's entry points. */
function onHono(entry: typeof honoSse): Contender {
  const contender = hubContender(entry)
  const app = new Hono()
  app.get('/*', contender.handler)
  return { ...contender, server: createAdaptorServer({ fetch: app.fetch }) as Server }
}

/** Hono's own helper, as its docs broadcast: `writeSSE` to every open stream. */
function honoStreamSse(): Contender {
  const streams = new Set<SSEStreamingApi>()
  const app = new Hono()
  app.get('/*', (c) =>
    streamSSE(c, async (stream) => {
      streams.add(stream)
      await new Promise<void>((resolve) => stream.onAbort(resolve))
      streams.delete(stream)
    }),
  )
  return {
    server: createAdaptorServer({ fetch: app.fetch }) as Server,
    connections: () => streams.size,
    publish(seq, sentAt) {
      const data = JSON.stringify(payload(seq, sentAt))
      for (const stream of streams)
        void stream.writeSSE({ data, event: EVENT_NAME, id: String(seq) })
      return streams.size
    },
  }
}

/**
 * The Web floor: what a Web stream costs on @hono/node-server before any
 * session, hub or framing. One ReadableStream per connection, no pull and no
 * request.signal; a broadcast encodes the frame once and enqueues the same
 * bytes to every stream.
 */
function webFloor(): Contender {
  const floor = bareStreams()
  const app = new Hono()
  app.get('/*', () => floor.fetch())
  return { ...floor, server: createAdaptorServer({ fetch: app.fetch }) as Server }
}

function betterSse(): Contender {
  const channel = createBetterChannel()
  const server = createHttpServer((req, res) => {
    void createBetterSession(req, res, { keepAlive: null, retry: null }).then((session) =>
      channel.register(session),
    )
  })
  return {
    server,
    connections: () => channel.sessionCount,
    publish(seq, sentAt) {
      channel.broadcast(payload(seq, sentAt), EVENT_NAME, { eventId: String(seq) })
      return channel.sessionCount
    },
  }
}

function naive(): Contender {
  const clients: ServerResponse[] = []
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, SSE_HEAD)
    res.flushHeaders()
    clients.push(res)
    res.once('close', () => clients.splice(clients.indexOf(res), 1))
  })
  return {
    server,
    connections: () => clients.length,
    publish(seq, sentAt) {
      const template = frame(seq, sentAt)
      for (const res of clients) res.write(template)
      return clients.length
    },
  }
}

function floor(): Contender {
  const head = Buffer.from(
    'HTTP/1.1 200 OK\r\n' +
      Object.entries(SSE_HEAD)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      '\r\n',
  )
  const ready: Socket[] = []
  const server = createNetServer((socket) => {
    socket.setNoDelay(true)
    socket.on('error', () => socket.destroy())
    // Answers once the request head is complete; its bytes are not kept.
    let request = ''
    const onData = (chunk: Buffer): void => {
      request += chunk.toString('latin1')
      if (!request.includes('\r\n\r\n')) return
      socket.off('data', onData)
      socket.write(head)
      ready.push(socket)
      socket.once('close', () => ready.splice(ready.indexOf(socket), 1))
    }
    socket.on('data', onData)
  })
  return {
    server,
    connections: () => ready.length,
    publish(seq, sentAt) {
      const bytes = Buffer.from(frame(seq, sentAt))
      for (const socket of ready) socket.write(bytes)
      return ready.length
    },
  }
}

const id = process.argv[2]
if (!isNodeContender(id)) throw new Error(`fanout-server: no contender ${id} on Node`)
const makers: Record<NodeContenderId, () => Contender> = {
  ours,
  'better-sse': betterSse,
  naive,
  floor,
  'hono-node': () => onHono(honoNodeSse),
  'hono-web': () => onHono(honoSse),
  'hono-streamSSE': honoStreamSse,
  'web-floor': webFloor,
}
const contender = makers[id]()

const sockets = new Set<Socket>()
contender.server.on('connection', (socket: Socket) => {
  sockets.add(socket)
  socket.once('close', () => sockets.delete(socket))
})

/** Resolves once no socket holds unsent bytes in user land (the kernel took them all). */
async function drained(): Promise<void> {
  await setImmediate()
  for (;;) {
    let backlog = false
    for (const socket of sockets) {
      if (socket.writableLength > 0 && !socket.destroyed) {
        backlog = true
        break
      }
    }
    if (!backlog) return
    // 'drain' only fires after a write returned false; below the high-water
    // mark the only signal is writableLength, so look again shortly.
    await setTimeout(1)
  }
}

const gc = (globalThis as { gc?: () => void }).gc
answerCommands(contender, {
  collect: () => gc?.(),
  pace: drained,
  exit() {
    contender.server.close()
    for (const socket of sockets) socket.destroy()
    // process.exit, not a natural end: --cpu-prof writes its profile then too.
    process.exit(0)
  },
})

contender.server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
  const address = contender.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  listening(address.port)
})
