import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { freePort } from '@sse/test-utils/ports'
import {
  serverGroup as group,
  type ServerGroup,
  type ServerProcess,
  startServer as startProcess,
} from '@sse/test-utils/server-process'
import { afterAll, beforeAll } from 'vitest'
import { answersPing, REDIS_URL, until } from './helpers'

const packageDir = resolve(import.meta.dirname, '..')

export { freePort } from '@sse/test-utils/ports'
export {
  eventsUrl,
  isLive,
  type ServerGroup,
  type ServerProcess,
} from '@sse/test-utils/server-process'

/** A server process of the engine server on a Redis (see its header for `env`). */
export function startServer(env: Record<string, string>): Promise<ServerProcess> {
  return startProcess({ REDIS_URL, ...env }, packageDir)
}

/** Server processes of a test file on a Redis, their clients, and their cleanup. */
export function serverGroup(env: () => Record<string, string>): ServerGroup {
  return group(() => ({ REDIS_URL, ...env() }), packageDir)
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
