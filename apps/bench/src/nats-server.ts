/**
 * A private single `nats-server -js` for a benchmark: a child of this process
 * on a free 127.0.0.1 port, its JetStream store in a temp dir of its own,
 * stopped by its pid and the dir removed. Its CPU time counts only the
 * benchmark's own work, which a NATS shared with other work would not.
 * (The 3-node cluster is the nats tests' fixture, `packages/nats/test`.)
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { freePort } from '@sse/test-utils/ports'
import { stopper } from './redis-server'

export interface NatsServer {
  /** The nats-server process, for its CPU time. */
  pid: number
  url: string
  /** `nats-server --version`'s version. */
  version: string
  /** SIGTERM, then SIGKILL after 2 s; resolves once it exited and its store is removed. */
  stop(): Promise<void>
}

const STARTUP_MS = 10_000

export async function startNatsServer(): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'sse-bench-nats-'))
  const port = await freePort()
  const child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], {
    stdio: 'ignore',
  })
  const stopChild = stopper(child)
  const stop = async (): Promise<void> => {
    await stopChild()
    await rm(dir, { recursive: true, force: true })
  }
  const url = `nats://127.0.0.1:${port}`
  try {
    await untilJetStream(url, () => child.exitCode !== null)
    if (child.pid === undefined) throw new Error('nats-server has no pid')
    return { pid: child.pid, url, version: natsServerVersion(), stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** The version of the `nats-server` on PATH (`nats-server: v2.9.10` → `2.9.10`). */
export function natsServerVersion(): string {
  const output = execFileSync('nats-server', ['--version'], { encoding: 'utf8' })
  return /v?(\d+\.\d+\.\d+\S*)/.exec(output)?.[1] ?? 'unknown'
}

/** Waits until JetStream answers at `url`, not only the server. */
async function untilJetStream(url: string, gone: () => boolean): Promise<void> {
  const deadline = Date.now() + STARTUP_MS
  for (;;) {
    if (gone()) throw new Error(`nats-server at ${url} exited`)
    try {
      const nc = await connect({ servers: url, timeout: 1000, reconnect: false })
      try {
        await (await jetstreamManager(nc, { timeout: 1000 })).getAccountInfo()
        return
      } finally {
        await nc.close()
      }
    } catch (error) {
      if (Date.now() > deadline) throw error
      await sleep(50)
    }
  }
}

/** Deletes `stream` over a connection of its own; a stream that was never made is no error. */
export async function deleteStream(servers: string[], stream: string): Promise<void> {
  const nc = await connect({ servers, timeout: 5000 })
  try {
    await (await jetstreamManager(nc)).streams.delete(stream).catch((error: unknown) => {
      const missing =
        error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound
      if (!missing) throw error
    })
  } finally {
    await nc.close()
  }
}
