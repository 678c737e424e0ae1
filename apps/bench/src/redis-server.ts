/**
 * A private standalone `redis-server` for a benchmark: a child of this
 * process on a free 127.0.0.1 port, without persistence, stopped by its pid.
 * Its `INFO cpu` counts only the benchmark's own commands, which a Redis
 * shared with other work would not.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '@sse/test-utils/ports'
import { Redis } from 'ioredis'

export interface RedisServer {
  port: number
  url: string
  /** `redis-server --version`'s version. */
  version: string
  /** SIGTERM, then SIGKILL after 2 s; resolves once it exited. */
  stop(): Promise<void>
}

const STARTUP_MS = 10_000

/**
 * How a private broker process (this one, and `nats-server.ts`'s) is stopped:
 * SIGTERM, then SIGKILL after 2 s; resolves once it exited. Call it at spawn.
 */
export function stopper(child: ChildProcess): () => Promise<void> {
  const exited = once(child, 'exit').then(() => undefined)
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
    await exited
    clearTimeout(timer)
  }
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort()
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  )
  const stop = stopper(child)
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null })
  redis.on('error', () => undefined)
  try {
    const deadline = Date.now() + STARTUP_MS
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited`)
      try {
        await redis.connect()
        break
      } catch (error) {
        if (Date.now() > deadline) throw error
        await sleep(50)
      }
    }
    const info = await redis.info('server')
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'
    return { port, url: `redis://127.0.0.1:${port}`, version, stop }
  } catch (error) {
    await stop()
    throw error
  } finally {
    redis.disconnect()
  }
}
