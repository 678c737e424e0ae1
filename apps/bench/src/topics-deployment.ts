/**
 * The processes one engine's rows run on, started and torn down by the
 * topics question:
 *
 * - `memory`: one node that serves both connection groups and publishes
 *   (the memory engine cannot cross processes);
 * - `redis`: a private standalone `redis-server`, two serving nodes (one per
 *   group) and a publishing node;
 * - `cluster`: a real local Redis Cluster of 3 masters and 3 replicas
 *   (`@sse/test-utils`), and the same three nodes.
 *
 * And one clients process for all of them. Every process is ours, stopped by
 * its pid in `stop()`, the Redis ones last.
 */
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { startRedisCluster } from '@sse/test-utils/redis-cluster'
import { IpcChild } from './ipc-child'
import { type CpuMeter, cpuMeter } from './redis-cpu'
import { startRedisServer } from './redis-server'
import type {
  ClientsCommand,
  ClientsReply,
  EngineSpec,
  NodeCommand,
  NodeReply,
  NodeSpec,
} from './topics-shared'

export type EngineKind = 'memory' | 'redis' | 'cluster'

export type Node = IpcChild<NodeCommand, NodeReply>

export interface Deployment {
  /** What the rows ran on, for the case name. */
  description: string
  /** The serving nodes, whose CPU is the server CPU. */
  servers: Node[]
  /** The serving node of each connection group. */
  serverOfGroup: number[]
  /** Each group's port. */
  ports: number[]
  publisher: Node
  /** Whether the publisher is one of the servers (its CPU is in theirs). */
  publisherServes: boolean
  clients: IpcChild<ClientsCommand, ClientsReply>
  /** Redis CPU: the standalone server, or the cluster's masters. */
  masters: CpuMeter | undefined
  /** The cluster's replicas. */
  replicas: CpuMeter | undefined
  stop(): Promise<void>
}

const NODE = fileURLToPath(new URL('./topics-node.ts', import.meta.url))
const CLIENTS = fileURLToPath(new URL('./topics-clients.ts', import.meta.url))

interface Infrastructure {
  engine: EngineSpec
  description: string
  masters: CpuMeter | undefined
  replicas: CpuMeter | undefined
  stop(): Promise<void>
}

async function infrastructure(kind: EngineKind): Promise<Infrastructure> {
  const prefix = `bench-topics:${randomUUID()}:`
  if (kind === 'memory') {
    return {
      engine: { kind },
      description: 'memory engine, 1 process (serves and publishes)',
      masters: undefined,
      replicas: undefined,
      stop: async () => undefined,
    }
  }
  if (kind === 'redis') {
    const redis = await startRedisServer()
    const masters = cpuMeter([redis.port])
    return {
      engine: { kind, url: redis.url, prefix },
      description: `one Redis ${redis.version} (a private redis-server), 2 server processes + 1 publisher`,
      masters,
      replicas: undefined,
      stop: async () => {
        masters.close()
        await redis.stop()
      },
    }
  }
  const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 })
  try {
    const nodes = await cluster.nodes()
    const portsOf = (role: string) => nodes.filter((n) => n.role === role).map((n) => n.port)
    const masters = cpuMeter(portsOf('master'))
    const replicas = cpuMeter(portsOf('replica'))
    return {
      engine: { kind, nodes: cluster.startupNodes, prefix },
      description:
        'Redis Cluster, 3 masters + 3 replicas (local redis-server processes), 2 server processes + 1 publisher',
      masters,
      replicas,
      stop: async () => {
        masters.close()
        replicas.close()
        await cluster.stop()
      },
    }
  } catch (error) {
    await cluster.stop()
    throw error
  }
}

export async function deploy(kind: EngineKind): Promise<Deployment> {
  const infra = await infrastructure(kind)
  const children: Array<Node | Deployment['clients']> = []
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((child) => child.stop({ type: 'exit' })))
    await infra.stop()
  }
  try {
    const node = (name: string, serve: boolean): Node => {
      const spec: NodeSpec = { engine: infra.engine, serve }
      const child: Node = new IpcChild(name, NODE, [JSON.stringify(spec)])
      children.push(child)
      return child
    }
    const memory = kind === 'memory'
    const servers = memory
      ? [node('server', true)]
      : [node('server-1', true), node('server-2', true)]
    const publisher = memory ? servers[0]! : node('publisher', false)
    const clients = new IpcChild<ClientsCommand, ClientsReply>('clients', CLIENTS, [])
    children.push(clients)
    const serverPorts: number[] = []
    for (const server of servers) serverPorts.push((await server.next('listening', 60)).port)
    if (!memory) await publisher.next('listening', 60)
    const serverOfGroup = memory ? [0, 0] : [0, 1]
    return {
      description: infra.description,
      servers,
      serverOfGroup,
      ports: serverOfGroup.map((server) => serverPorts[server]!),
      publisher,
      publisherServes: memory,
      clients,
      masters: infra.masters,
      replicas: infra.replicas,
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
