import { type ChildProcess, fork, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { answersPing, type OpenStream, openStream, REDIS_URL, until } from './helpers'

/** A server process (test/fixtures/server.ts) on its own port. */
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

const packageDir = resolve(import.meta.dirname, '..')
let batches = 0

/** Forks a server process (see test/fixtures/server.ts for `env`). */
export function startServer(
  env: Record<string, string>,
  script = resolve(packageDir, 'test/fixtures/server.ts'),
): Promise<ServerProcess> {
  const child = fork(script, [], {
    cwd: packageDir,
    execArgv: ['--import', 'tsx', '--conditions=@sse/source'],
    env: { ...process.env, REDIS_URL, ...env },
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
  connect(server: ServerProcess, selectors: string[]): OpenStream
  /** Closes every stream, kills every process still running. */
  stop(): Promise<void>
}

export function serverGroup(env: () => Record<string, string>): ServerGroup {
  const servers: ServerProcess[] = []
  const streams: OpenStream[] = []
  return {
    async start(count) {
      const started = await Promise.all(Array.from({ length: count }, () => startServer(env())))
      servers.push(...started)
      return started
    },
    connect(server, selectors) {
      const stream = openStream(eventsUrl(server.url, selectors))
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
export function isLive(stream: OpenStream): boolean {
  return stream.events.some((event) => event.type === 'ready')
}

/** A redis-server of the test's own (no persistence), on a free port: restart and kill it at will. */
export interface OwnRedis {
  url: string
  port: number
  /** Stops it (SIGKILL by default) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Starts it again, empty, on the same port. */
  start(): Promise<void>
}

async function startOwnRedis(): Promise<OwnRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'sse-redis-'))
  const port = await freePort()
  let child: ChildProcess | undefined
  const own: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async kill(signal = 'SIGKILL') {
      const running = child
      child = undefined
      if (running === undefined || running.exitCode !== null) return
      const exited = once(running, 'exit')
      running.kill(signal)
      await exited
    },
    async start() {
      const args = [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
      ]
      child = spawn('redis-server', [...args, '--dir', dir], { stdio: 'ignore' })
      const started = child
      await until(async () => {
        if (started.exitCode !== null) throw new Error(`redis-server on ${port} exited`)
        return answersPing(own.url)
      }, `redis-server on ${port} to answer`)
    },
  }
  await own.start()
  // Best effort for a run that ends without stopOwnRedis().
  process.once('exit', () => child?.kill('SIGKILL'))
  cleanups.push(async () => {
    await own.kill()
    await rm(dir, { recursive: true, force: true })
  })
  return own
}

const cleanups: Array<() => Promise<void>> = []

/** Stops every redis-server this file started. */
async function stopOwnRedis(): Promise<void> {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()))
}

/** A port nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => done(port))
    })
  })
}

/** A TCP proxy to a Redis that can be cut (every connection dropped, new ones refused) and restored. */
export interface RedisProxy {
  url: string
  cut(): void
  restore(): void
  close(): void
}

export async function redisProxy(target: string): Promise<RedisProxy> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<Socket>()
  let down = false
  const server: Server = createServer((client) => {
    if (down) {
      client.destroy()
      return
    }
    const upstream = tcpConnect(Number(port || 6379), hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const proxy: RedisProxy = {
    url: `redis://127.0.0.1:${(server.address() as { port: number }).port}`,
    cut() {
      down = true
      for (const socket of sockets) socket.destroy()
    },
    restore() {
      down = false
    },
    close() {
      proxy.cut()
      server.close()
    },
  }
  return proxy
}

/** An {@link OwnRedis} with a place for the cleanups that must run while it is up. */
export interface UsedRedis extends OwnRedis {
  /** Runs `cleanup` after the tests, before the redis-server stops (newest first). */
  cleanup(cleanup: () => unknown): void
}

/** A redis-server of the enclosing `describe`'s own: started before its tests, stopped after. */
export function useOwnRedis(): UsedRedis {
  let own: OwnRedis | undefined
  const pending: Array<() => unknown> = []
  beforeAll(async () => {
    own = await startOwnRedis()
  }, 30_000)
  afterAll(async () => {
    for (const cleanup of pending.reverse()) await cleanup()
    await stopOwnRedis()
  })
  const started = (): OwnRedis => {
    if (own === undefined) throw new Error('the redis-server has not started')
    return own
  }
  return {
    get url() {
      return started().url
    },
    get port() {
      return started().port
    },
    kill: (signal) => started().kill(signal),
    start: () => started().start(),
    cleanup: (cleanup) => {
      pending.push(cleanup)
    },
  }
}
