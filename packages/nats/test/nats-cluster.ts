import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { freePort } from '@sse/test-utils/ports'

/** A 3-node JetStream cluster of our own on 127.0.0.1, started and stopped by a test. */
export interface NatsCluster {
  /** Client URLs of the three servers. */
  servers: string[]
  /** Kills the server named `name` (`n0`, `n1`, `n2`) with SIGKILL. */
  kill(name: string): Promise<void>
  stop(): Promise<void>
}

/** Starts three nats-server processes with routes to each other and waits for JetStream. */
export async function startNatsCluster(): Promise<NatsCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'sse-nats-cluster-'))
  const clientPorts = [await freePort(), await freePort(), await freePort()]
  const routePorts = [await freePort(), await freePort(), await freePort()]
  const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`).join(',')
  const children = new Map<string, ChildProcess>()
  for (let i = 0; i < 3; i++) {
    const name = `n${i}`
    const child = spawn(
      'nats-server',
      [
        '-js',
        '-a',
        '127.0.0.1',
        '-p',
        String(clientPorts[i]),
        '-n',
        name,
        '-sd',
        join(dir, name),
        '--cluster_name',
        'sse-test',
        '--cluster',
        `nats://127.0.0.1:${routePorts[i]}`,
        '--routes',
        routes,
      ],
      { stdio: 'ignore' },
    )
    children.set(name, child)
  }
  const servers = clientPorts.map((port) => `nats://127.0.0.1:${port}`)
  const cluster: NatsCluster = {
    servers,
    async kill(name) {
      const child = children.get(name)
      // A process killed by a signal has no exit code, only a signal code.
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    },
    async stop() {
      for (const name of children.keys()) await cluster.kill(name)
      await rm(dir, { recursive: true, force: true })
    },
  }
  // JetStream answers once the meta group has a leader: seconds after start.
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      const nc = await connect({ servers, timeout: 1000 })
      try {
        await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo()
        return cluster
      } finally {
        await nc.close()
      }
    } catch (error) {
      if (Date.now() > deadline) {
        await cluster.stop()
        throw new Error(`the NATS cluster did not form: ${String(error)}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
}
