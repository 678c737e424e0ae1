/**
 * The processes one engine's rows run on, started and torn down by the
 * topics question:
 *
 * - `memory`: one node that serves both connection groups and publishes
 *   (the memory engine cannot cross processes);
 * - `redis`: a private standalone `redis-server`, two serving nodes (one per
 *   group) and a publishing node;
 * - `cluster`: a real local Redis Cluster of 3 masters and 3 replicas
 *   (`@sse/test-utils`), and the same three nodes;
 * - `nats`: a private `nats-server -js` (`nats-server.ts`), and the same
 *   three nodes on a stream of this run's own, deleted at the end;
 * - `nats-cluster`: a real local 3-node JetStream cluster (the nats tests'
 *   fixture), a stream with 3 replicas, and the same three nodes.
 *
 * And one clients process for all of them. Every process is ours, stopped by
 * its pid in `stop()`, the brokers last.
 */
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { startRedisCluster } from '@sse/test-utils/redis-cluster'
import { startNatsCluster } from '../../../packages/nats/test/nats-cluster'
import { IpcChild } from './ipc-child'
import { natsServerPid, processCpuMeter } from './nats-cpu'
import { deleteStream, natsServerVersion, startNatsServer } from './nats-server'
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

export type EngineKind = 'memory' | 'redis' | 'cluster' | 'nats' | 'nats-cluster'

export type Node = IpcChild<NodeCommand, NodeReply>

/** The broker between the processes, and its own CPU. */
export interface Broker {
  /** Its name in the rows: `Redis`, `NATS`. */
  name: string
  /** Its CPU: the standalone server, the Redis Cluster's masters, or every node of a NATS cluster. */
  cpu: CpuMeter
  /** The Redis Cluster's replicas, shown apart. */
  replicas: CpuMeter | undefined
}

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
  /** None for the memory engine. */
  broker: Broker | undefined
  stop(): Promise<void>
}

const NODE = fileURLToPath(new URL('./topics-node.ts', import.meta.url))
const CLIENTS = fileURLToPath(new URL('./topics-clients.ts', import.meta.url))

interface Infrastructure {
  engine: EngineSpec
  description: string
  broker: Broker | undefined
  stop(): Promise<void>
}

const NODES = '2 server processes + 1 publisher'

async function infrastructure(kind: EngineKind): Promise<Infrastructure> {
  const id = randomUUID()
  const prefix = `bench-topics:${id}:`
  // A JetStream stream and subject prefix of this run's own.
  const stream = `BENCH_TOPICS_${id.replaceAll('-', '')}`
  const subjectPrefix = `bench-topics.${id.replaceAll('-', '')}`
  switch (kind) {
    case 'memory':
      return {
        engine: { kind },
        description: 'memory engine, 1 process (serves and publishes)',
        broker: undefined,
        stop: async () => undefined,
      }
    case 'redis': {
      const redis = await startRedisServer()
      const cpu = cpuMeter([redis.port])
      return {
        engine: { kind, url: redis.url, prefix },
        description: `one Redis ${redis.version} (a private redis-server), ${NODES}`,
        broker: { name: 'Redis', cpu, replicas: undefined },
        stop: async () => {
          cpu.close()
          await redis.stop()
        },
      }
    }
    case 'cluster': {
      const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 })
      try {
        const nodes = await cluster.nodes()
        const portsOf = (role: string) => nodes.filter((n) => n.role === role).map((n) => n.port)
        const cpu = cpuMeter(portsOf('master'))
        const replicas = cpuMeter(portsOf('replica'))
        return {
          engine: { kind, nodes: cluster.startupNodes, prefix },
          description: `Redis Cluster, 3 masters + 3 replicas (local redis-server processes), ${NODES}`,
          broker: { name: 'Redis', cpu, replicas },
          stop: async () => {
            cpu.close()
            replicas.close()
            await cluster.stop()
          },
        }
      } catch (error) {
        await cluster.stop()
        throw error
      }
    }
    case 'nats': {
      const nats = await startNatsServer()
      return {
        engine: { kind, servers: [nats.url], stream, subjectPrefix, replicas: 1 },
        description: `one NATS ${nats.version} JetStream (a private nats-server -js), stream in memory, ${NODES}`,
        broker: { name: 'NATS', cpu: processCpuMeter([nats.pid]), replicas: undefined },
        stop: async () => {
          try {
            await deleteStream([nats.url], stream)
          } finally {
            await nats.stop()
          }
        },
      }
    }
    case 'nats-cluster': {
      const cluster = await startNatsCluster()
      try {
        const pids = await Promise.all(
          cluster.servers.map((url) => natsServerPid(Number(new URL(url).port))),
        )
        return {
          engine: { kind: 'nats', servers: cluster.servers, stream, subjectPrefix, replicas: 3 },
          description:
            `NATS ${natsServerVersion()} JetStream cluster, 3 nodes (local nats-server processes), ` +
            `stream in memory with 3 replicas, ${NODES}`,
          broker: { name: 'NATS (3 nodes)', cpu: processCpuMeter(pids), replicas: undefined },
          stop: async () => {
            try {
              await deleteStream(cluster.servers, stream)
            } finally {
              await cluster.stop()
            }
          },
        }
      } catch (error) {
        await cluster.stop()
        throw error
      }
    }
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
      broker: infra.broker,
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
