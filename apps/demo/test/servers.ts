// One tiny server per adapter, all serving the same test page and the same
// scripted event streams, so the browser tests compare like with like.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { createHub, type Session } from '@sse/core'
import { sse as expressSse } from '@sse/express'
import { fastifySse } from '@sse/fastify'
import { sse as honoSse } from '@sse/hono'
import { sse as koaSse } from '@sse/koa'
import { openSession } from '@sse/node-http'
import { listen } from '@sse/test-utils/servers'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import Koa from 'koa'

/** What a server under test serves: the page at `/`, and one event stream per path. */
export interface Routes {
  page: string
  streams: Record<string, (session: Session) => unknown>
  /** The reconnection delay sent to the browser. */
  retry: number
}

export interface Running {
  url: string
  close(): Promise<void>
}

export interface Adapter {
  name: string
  start(routes: Routes): Promise<Running>
}

/** An event as the page's EventSource hands it over. */
export interface Seen {
  type: string
  data: string
  lastEventId: string
}

/**
 * The scripted stream: named and unnamed events, ids (one with spaces), data
 * over several lines (LF and CRLF), an empty data line, leading whitespace
 * and non-ASCII text.
 */
export const SCRIPT: Array<{ data: string; event?: string; id?: string }> = [
  { event: 'greeting', id: '1', data: 'hello' },
  { id: '2', data: 'line one\nline two\r\nline three' },
  { event: 'json', id: 'id with spaces', data: JSON.stringify({ text: 'Grüße, 世界', n: 3 }) },
  { event: 'greeting', data: '' },
  { id: '4', data: '  two leading spaces' },
  { event: 'end', id: '5', data: 'bye' },
]

/** What the page must collect from {@link SCRIPT}: the spec's view of each event. */
export const EXPECTED: Seen[] = [
  { type: 'greeting', data: 'hello', lastEventId: '1' },
  { type: 'message', data: 'line one\nline two\nline three', lastEventId: '2' },
  { type: 'json', data: '{"text":"Grüße, 世界","n":3}', lastEventId: 'id with spaces' },
  // No `id:` field: the last event id carries over.
  { type: 'greeting', data: '', lastEventId: 'id with spaces' },
  { type: 'message', data: '  two leading spaces', lastEventId: '4' },
  { type: 'end', data: 'bye', lastEventId: '5' },
]

export function scripted(session: Session): void {
  for (const { data, ...options } of SCRIPT) session.send(data, options)
}

/**
 * A hub (history in memory) that counts to `total` on `tick` events on one
 * topic, 15 ms apart, and closes every stream from the server side after
 * tick `dropAfter` (once), then ends with an `end` event. Starts counting
 * when the first browser connects.
 */
export function resumeScenario(total = 30, dropAfter = 10) {
  const hub = createHub()
  const tick = (data: string, event: string): void => void hub.publish('ticks', data, { event })
  /** The Last-Event-ID of each connection, in order. */
  const connections: Array<string | undefined> = []
  let timer: ReturnType<typeof setInterval> | undefined
  let sentWhileAway = 0
  const start = (): void => {
    let n = 0
    timer = setInterval(() => {
      n++
      if (hub.size === 0) sentWhileAway++
      tick(String(n), 'tick')
      if (n === dropAfter) {
        for (const { session } of [...hub.subscriptions()]) session.close()
        // One tick while nobody is connected, for certain (a browser that
        // reconnects within one interval would otherwise miss nothing): the
        // replay has to carry it.
        n++
        sentWhileAway++
        tick(String(n), 'tick')
      }
      if (n === total) {
        clearInterval(timer)
        tick('bye', 'end')
      }
    }, 15)
  }
  return {
    connections,
    /** Ticks published while no browser was connected: the replay had to carry them. */
    get sentWhileAway() {
      return sentWhileAway
    },
    handler(session: Session): Promise<void> {
      connections.push(session.lastEventId)
      if (timer === undefined) start()
      return hub.subscribe(session, 'ticks').ready
    },
    close(): void {
      clearInterval(timer)
      hub.close()
    },
  }
}

/** The test page: opens `?stream=` with EventSource and collects every event until `end`. */
export const PAGE = `<!doctype html><meta charset="utf-8"><title>EventSource under test</title>
<script>
  window.events = []
  window.opens = 0
  window.done = false
  const source = new EventSource(new URLSearchParams(location.search).get('stream'))
  source.onopen = () => window.opens++
  for (const type of ['message', 'greeting', 'json', 'tick', 'end']) {
    source.addEventListener(type, (event) => {
      window.events.push({ type: event.type, data: event.data, lastEventId: event.lastEventId })
      if (type === 'end') {
        source.close()
        window.done = true
      }
    })
  }
</script>`

const HTML = 'text/html; charset=utf-8'

export const adapters: Adapter[] = [
  {
    name: '@sse/node-http',
    async start({ page, streams, retry }) {
      const server = createServer((req, res) => {
        const { pathname } = new URL(req.url ?? '/', 'http://localhost')
        const handler = streams[pathname]
        if (handler !== undefined) void handler(openSession(req, res, { retry })!)
        else if (pathname === '/') res.writeHead(200, { 'content-type': HTML }).end(page)
        else res.writeHead(404).end()
      })
      return listen(server)
    },
  },
  {
    name: '@sse/express',
    async start({ page, streams, retry }) {
      const app = express()
      app.get('/', (_req, res) => {
        res.type('html').send(page)
      })
      for (const [path, handler] of Object.entries(streams)) {
        app.get(
          path,
          expressSse((session) => handler(session), { retry }),
        )
      }
      return listen(createServer(app))
    },
  },
  {
    name: '@sse/koa',
    async start({ page, streams, retry }) {
      const app = new Koa()
      const mounted = new Map(
        Object.entries(streams).map(([path, handler]) => [
          path,
          koaSse((session) => handler(session), { retry }),
        ]),
      )
      app.use((ctx, next) => {
        const middleware = mounted.get(ctx.path)
        if (middleware !== undefined) return middleware(ctx, next)
        if (ctx.path !== '/') return next()
        ctx.type = 'html'
        ctx.body = page
      })
      const server = createServer(app.callback())
      return listen(server)
    },
  },
  {
    name: '@sse/fastify',
    async start({ page, streams, retry }) {
      const app = Fastify({ forceCloseConnections: true })
      await app.register(fastifySse, { retry })
      app.get('/', (_request, reply) => reply.type(HTML).send(page))
      for (const [path, handler] of Object.entries(streams)) {
        app.get(path, (_request, reply) => {
          void handler(reply.sse()!)
        })
      }
      await app.listen({ host: '127.0.0.1', port: 0 })
      const { port } = app.server.address() as AddressInfo
      return { url: `http://127.0.0.1:${port}`, close: () => app.close() }
    },
  },
  {
    name: '@sse/hono',
    async start({ page, streams, retry }) {
      const app = new Hono()
      app.get('/', (c) => c.html(page))
      for (const [path, handler] of Object.entries(streams)) {
        app.get(path, honoSse(handler, { retry }))
      }
      return listen(createAdaptorServer({ fetch: app.fetch }) as ReturnType<typeof createServer>)
    },
  },
]
