import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createParser, type ParsedEvent } from '@sse/core'

/** An event stream read with fetch; `ended` settles when the server goes away or `close()` is called. */
export interface LiveStream {
  events: ParsedEvent[]
  /** The Last-Event-ID a reconnect would send (id-only frames included). */
  lastEventId(): string
  ended: Promise<unknown>
  close(): void
}

export function liveStream(url: string, lastEventId?: string): LiveStream {
  const controller = new AbortController()
  const events: ParsedEvent[] = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  const headers: Record<string, string> =
    lastEventId === undefined ? {} : { 'last-event-id': lastEventId }
  const ended = (async () => {
    const response = await fetch(url, { headers, signal: controller.signal })
    const reader = response.body!.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return 'end'
      parser.feed(value)
    }
  })().catch((error: unknown) => error)
  return { events, lastEventId: () => parser.lastEventId, ended, close: () => controller.abort() }
}

/** A server process (fixtures/engine-server.ts of this package) on its own port. */
export interface ServerProcess {
  child: ChildProcess
  url: string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Publishes `events` one after another in that process; which ones it acknowledged. */
  publish(events: Array<{ topics: string[]; data: string }>): Promise<boolean[]>
  /** Its open sessions and background engine errors. */
  stats(): Promise<{ sessions: number; engineErrors: number }>
  send(message: unknown): void
}

/** The engine server every engine's process tests fork (its header says how to configure it). */
export const ENGINE_SERVER = fileURLToPath(new URL('../fixtures/engine-server.ts', import.meta.url))
let batches = 0

/**
 * Forks a server process of `script` in `cwd`, the directory of the package
 * under test (the engine server loads its engine from there).
 */
export function startServer(
  env: Record<string, string>,
  cwd: string,
  script = ENGINE_SERVER,
): Promise<ServerProcess> {
  const child = fork(script, [], {
    cwd,
    execArgv: ['--import', 'tsx', '--conditions=@sse/source'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  )
  return new Promise((resolveServer, reject) => {
    const timer = setTimeout(
      () => reject(new Error('server process did not start in 20 s')),
      20_000,
    )
    child.once('exit', (code) => reject(new Error(`server process exited early (${code})`)))
    child.on('message', (message: { type?: string; port?: number }) => {
      if (message.type !== 'listening' || message.port === undefined) return
      clearTimeout(timer)
      const url = `http://127.0.0.1:${message.port}`
      resolveServer({
        child,
        url,
        exited,
        publish(events) {
          const id = ++batches
          return new Promise((done) => {
            const onReply = (reply: { type?: string; id?: number; ok?: boolean[] }) => {
              if (reply.type !== 'published' || reply.id !== id) return
              child.off('message', onReply)
              done(reply.ok!)
            }
            child.on('message', onReply)
            child.send({ type: 'publish', id, events })
          })
        },
        async stats() {
          return (await (await fetch(`${url}/stats`)).json()) as {
            sessions: number
            engineErrors: number
          }
        },
        send: (m) => child.send(m as never),
      })
    })
  })
}

/** Server processes of a test file, their clients, and their cleanup. */
export interface ServerGroup {
  /** Starts `count` server processes with the group's environment. */
  start(count: number): Promise<ServerProcess[]>
  /** Opens an event stream on `server` for `selectors` (closed by `stop`). */
  connect(server: ServerProcess, selectors: string[]): LiveStream
  /** Closes every stream, kills every process still running. */
  stop(): Promise<void>
}

export function serverGroup(env: () => Record<string, string>, cwd: string): ServerGroup {
  const servers: ServerProcess[] = []
  const streams: LiveStream[] = []
  return {
    async start(count) {
      const started = await Promise.all(
        Array.from({ length: count }, () => startServer(env(), cwd)),
      )
      servers.push(...started)
      return started
    },
    connect(server, selectors) {
      const stream = liveStream(eventsUrl(server.url, selectors))
      streams.push(stream)
      return stream
    },
    async stop() {
      for (const stream of streams) stream.close()
      for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGKILL')
      await Promise.all(servers.map((server) => server.exited))
    },
  }
}

/** The URL of a server process's stream for `selectors`. */
export function eventsUrl(base: string, selectors: string[]): string {
  return `${base}/events?${selectors.map((s) => `s=${encodeURIComponent(s)}`).join('&')}`
}

/** Whether a stream of a server process is live (it sends a `ready` event then). */
export function isLive(stream: LiveStream): boolean {
  return stream.events.some((event) => event.type === 'ready')
}
