// The demo server: one node:http server, one hub, four routes.
//
// Each tab opens ONE EventSource on `GET /events?user=<name>`; the server
// subscribes it to `users/<name>` and the shared topics (see topics.ts), and
// one Last-Event-ID resumes all of them after a reconnect, on any instance
// sharing the engine.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createHub, createInstrumentation, type Hub } from '@sse/core'
import { openSession } from '@sse/node-http'
import { fakeTokens } from './chat'
import type { DemoEngine } from './engine'
import { HttpError, readJson, readText, sendFile, sendJson, staticFile } from './http'
import { createMetrics } from './metrics'
import { trackPresence } from './presence'
import { type Notice, type Point, recordRecent } from './recent'
import { CHART, NOTICES, selectorsFor, userName, userTopic } from './topics'

/** Options for {@link createDemo}. */
export interface DemoOptions {
  engine: DemoEngine
  /** Milliseconds between chart points. @defaultValue 250 */
  pointInterval?: number
  /** Average milliseconds between chat tokens. @defaultValue 35 */
  tokenDelay?: number
  /** The reconnection delay sent to browsers. @defaultValue 1000 */
  retry?: number
  /** Reports errors that have no response to go to. @defaultValue console.error */
  onError?: (error: unknown) => void
}

/** A running demo: its server (not yet listening) and its hub. */
export interface Demo {
  readonly server: Server
  readonly hub: Hub
  /** How many tab streams this instance holds. */
  readonly tabs: number
  /** Stops the chart, ends every stream and closes the server (not the engine). */
  close(): Promise<void>
}

export const MAX_NOTICE_LENGTH = 280
export const MAX_PROMPT_LENGTH = 500

/** Creates the demo server; call `server.listen()` on it. */
export function createDemo(options: DemoOptions): Demo {
  const { engine } = options
  const retry = options.retry ?? 1000
  const onError = options.onError ?? ((error: unknown) => console.error(error))
  let closing = false

  // Every stream and the hub count into one instrumentation, served on /metrics.
  const instrumentation = createInstrumentation()
  const metrics = createMetrics(instrumentation)
  const hub = createHub({
    engine: engine.engine,
    instrumentation,
    onError: (error) => onError(error),
  })
  const recorder = recordRecent(hub, { points: 120, notices: 30 })
  const presence = trackPresence(hub, { instance: () => instance(), onError })

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) sendJson(res, error.status, { error: error.message })
      else {
        onError(error)
        if (!res.headersSent) sendJson(res, 500, { error: 'Internal error' })
        else res.destroy()
      }
    })
  })

  const instance = (): string => {
    const address = server.address()
    return typeof address === 'object' && address !== null ? `:${address.port}` : 'demo'
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const method = req.method ?? 'GET'
    const post = method === 'POST'
    if (url.pathname === '/events' && method === 'GET') return openStream(req, res, url)
    if (url.pathname === '/notify' && post) return notify(req, res)
    if (url.pathname === '/chat' && post) return chat(req, res)
    if (url.pathname === '/drop' && post) return drop(res)
    if (url.pathname === '/metrics' && method === 'GET') return metrics.handle(req, res)
    const file = staticFile(url.pathname)
    if (file !== undefined && (method === 'GET' || method === 'HEAD')) return sendFile(res, file)
    sendJson(res, file === undefined && !isRoute(url.pathname) ? 404 : 405, {
      error: 'No such route',
    })
  }

  async function openStream(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    // Here an application would take the user from its authentication (a
    // cookie, a token); the demo's "login" is the query. Either way the
    // server picks the selectors, and a bad name is a 400 before any stream.
    const user = userName(url.searchParams.get('user'))
    const session = openSession(req, res, { retry, instrumentation })
    if (session === undefined || session.closed) return
    const topics = selectorsFor(user)
    const subscription = hub.subscribe(session, topics)
    presence.add(session)
    const resumedFrom = session.lastEventId ?? null
    const hello = { instance: instance(), engine: engine.kind, user, topics, resumedFrom }
    if (resumedFrom === null) {
      // A first visit: the hub writes the live events that come after this
      // very tick, so a snapshot of the shared topics taken now lines up
      // with them, nothing missing, nothing twice.
      session.send({ ...hello, ...recorder.recent() }, { event: 'hello' })
      await subscription.ready
    } else {
      // A reconnect: the hub replays every topic of the tab from its one
      // Last-Event-ID; `hello` marks where the replay ends.
      await subscription.ready
      session.send(hello, { event: 'hello' })
    }
  }

  async function notify(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readJson(req, 2048)) as Record<string, unknown> | null
    const text = readText(body, 'text', MAX_NOTICE_LENGTH)
    const to =
      body?.to === undefined || body.to === null || body.to === '' ? null : userName(body.to, 'to')
    const notice: Notice = { id: randomUUID(), text, at: Date.now(), from: instance(), to }
    const topic = to === null ? NOTICES : userTopic(to)
    await hub.publish(topic, notice, { event: 'notice' })
    sendJson(res, 202, { id: notice.id, topic })
  }

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const prompt = readText(await readJson(req, 4096), 'prompt', MAX_PROMPT_LENGTH)
    // A one-off answer: nothing to resume, so no retry hint.
    const session = openSession(req, res, { retry: false, instrumentation })!
    await session.pipe(fakeTokens(prompt, options.tokenDelay), { event: 'token', close: true })
  }

  function drop(res: ServerResponse): void {
    const sessions = presence.sessions()
    for (const session of sessions) session.close()
    sendJson(res, 200, { dropped: sessions.length })
  }

  // The chart: a mean-reverting random walk. The next point continues from
  // the last one delivered on `chart`, whichever instance produced it, or
  // from this instance's own last one if that has not come back yet.
  let producing = false
  let published: Point | undefined
  const timer = setInterval(async () => {
    if (producing) return
    producing = true
    try {
      if (!(await engine.isProducer()) || closing) return
      const delivered = recorder.lastPoint
      const last = (published?.seq ?? 0) > (delivered?.seq ?? 0) ? published : delivered
      const previous = last?.value ?? 100
      const value = previous + (100 - previous) * 0.03 + (Math.random() - 0.5) * 3
      const point: Point = { seq: (last?.seq ?? 0) + 1, value: round(value), t: Date.now() }
      await hub.publish(CHART, point, { event: 'point' })
      published = point
    } catch (error) {
      onError(error)
    } finally {
      producing = false
    }
  }, options.pointInterval ?? 250)

  return {
    server,
    hub,
    get tabs() {
      return presence.sessions().length
    },
    async close() {
      if (closing) return
      closing = true
      clearInterval(timer)
      await presence.close()
      hub.close()
      await metrics.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function isRoute(pathname: string): boolean {
  return ['/events', '/notify', '/chat', '/drop', '/metrics'].includes(pathname)
}

function round(value: number): number {
  return Math.round(value * 100) / 100
}
