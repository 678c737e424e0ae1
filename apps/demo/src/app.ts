// The demo server: one node:http server, two channels, four routes.
//
// - `main` carries what a page must never miss, `point` (the chart) and
//   `notice` (notifications), with history in the event store: a page that
//   reconnects with Last-Event-ID gets every event it missed, once.
// - `presence` is live-only and carries `clients`, the connection count.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { type Channel, createChannel, type Session } from '@sse/core'
import { createSession } from '@sse/node-http'
import { fakeTokens } from './chat'
import { HttpError, readJson, readText, sendFile, sendJson, staticFile } from './http'
import { type Point, recordRecent } from './recent'
import type { DemoStore } from './store'

/** Options for {@link createDemo}. */
export interface DemoOptions {
  store: DemoStore
  /** Milliseconds between chart points. @defaultValue 250 */
  pointInterval?: number
  /** Average milliseconds between chat tokens. @defaultValue 35 */
  tokenDelay?: number
  /** The reconnection delay sent to browsers. @defaultValue 1000 */
  retry?: number
  /** Reports errors that have no response to go to. @defaultValue console.error */
  onError?: (error: unknown) => void
}

/** A running demo: its server (not yet listening) and its main channel. */
export interface Demo {
  readonly server: Server
  readonly main: Channel
  /** Stops the chart, ends every stream and closes the server (not the store). */
  close(): Promise<void>
}

export const MAX_NOTICE_LENGTH = 280
export const MAX_PROMPT_LENGTH = 500

/** Creates the demo server; call `server.listen()` on it. */
export function createDemo(options: DemoOptions): Demo {
  const { store } = options
  const retry = options.retry ?? 1000
  const onError = options.onError ?? ((error: unknown) => console.error(error))

  const main = createChannel({ name: 'demo', store: store.store, onError })
  const recorder = recordRecent(main, { points: 120, notices: 30 })

  // One `clients` broadcast per burst of joins and leaves (a drop closes
  // every stream at once), not one per session.
  let announcing = false
  const announce = (): void => {
    if (announcing) return
    announcing = true
    queueMicrotask(() => {
      announcing = false
      if (presenceOpen) void presence.broadcast(presence.size, { event: 'clients' })
    })
  }
  let presenceOpen = true
  const presence = createChannel({ onJoin: announce, onLeave: announce })

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
    const { pathname } = new URL(req.url ?? '/', 'http://localhost')
    const method = req.method ?? 'GET'
    const post = method === 'POST'
    if (pathname === '/events' && method === 'GET') return openMainStream(req, res)
    if (pathname === '/notify' && post) return notify(req, res)
    if (pathname === '/chat' && post) return chat(req, res)
    if (pathname === '/drop' && post) return drop(res)
    const file = staticFile(pathname)
    if (file !== undefined && (method === 'GET' || method === 'HEAD')) return sendFile(res, file)
    sendJson(res, file === undefined && !isRoute(pathname) ? 404 : 405, { error: 'No such route' })
  }

  async function openMainStream(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = createSession(req, res, { retry })
    if (session.closed) return
    void presence.join(session)
    const resumedFrom = session.lastEventId ?? null
    if (resumedFrom === null) {
      // A first visit: no replay, so `join` adds the session before it
      // returns, and the snapshot taken on the same tick lines up with the
      // live events that follow. Its id is the newest one, so a reconnect
      // resumes right after the snapshot.
      const joined = main.join(session)
      const { points, notices, lastId } = recorder.recent
      const hello = { ...helloData(null), points, notices }
      session.send(
        hello,
        lastId === undefined ? { event: 'hello' } : { event: 'hello', id: lastId },
      )
      await joined
    } else {
      // A reconnect: the replay of everything after its Last-Event-ID is
      // written once `join` resolves; `hello` marks where replay ends.
      await main.join(session)
      session.send(helloData(resumedFrom), { event: 'hello' })
    }
  }

  function helloData(resumedFrom: string | null) {
    return { instance: instance(), store: store.kind, clients: presence.size, resumedFrom }
  }

  async function notify(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = readText(await readJson(req, 2048), 'text', MAX_NOTICE_LENGTH)
    const { id } = await main.broadcast(
      { text, at: Date.now(), from: instance() },
      { event: 'notice' },
    )
    sendJson(res, 202, { id })
  }

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const prompt = readText(await readJson(req, 4096), 'prompt', MAX_PROMPT_LENGTH)
    // A one-off answer: nothing to resume, so no retry hint.
    const session = createSession(req, res, { retry: false })
    await session.pipe(fakeTokens(prompt, options.tokenDelay), { event: 'token', close: true })
  }

  function drop(res: ServerResponse): void {
    const sessions: Session[] = [...presence.sessions()]
    for (const session of sessions) session.close()
    sendJson(res, 200, { dropped: sessions.length })
  }

  // The chart: a mean-reverting random walk. The next point continues from
  // the last one the channel delivered, whichever instance produced it.
  let producing = false
  const timer = setInterval(async () => {
    if (producing) return
    producing = true
    try {
      if (!(await store.isProducer())) return
      const last = recorder.lastPoint
      const previous = last?.value ?? 100
      const value = previous + (100 - previous) * 0.03 + (Math.random() - 0.5) * 3
      const point: Point = { seq: (last?.seq ?? 0) + 1, value: round(value), t: Date.now() }
      await main.broadcast(point, { event: 'point' })
    } catch (error) {
      onError(error)
    } finally {
      producing = false
    }
  }, options.pointInterval ?? 250)

  return {
    server,
    main,
    async close() {
      clearInterval(timer)
      presenceOpen = false
      main.close()
      presence.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function isRoute(pathname: string): boolean {
  return ['/events', '/notify', '/chat', '/drop'].includes(pathname)
}

function round(value: number): number {
  return Math.round(value * 100) / 100
}
