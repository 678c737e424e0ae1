/**
 * One node of the topics question, in its own process (run by `topics.ts`):
 * `node topics-node.ts '<NodeSpec as JSON>'`. A hub on the engine of the spec
 * (memory, one Redis, a Redis Cluster, or NATS JetStream) that serves HTTP,
 * publishes on command, or both.
 *
 * Serving: `GET /events?first=<i>&count=<n>` opens an `@sse/node-http`
 * session subscribed to the exact topics `users/<i>` … `users/<i + n - 1>`.
 * Publishing: at a fixed rate, to random topics, each event carrying its
 * send time. Any engine or hub error fails the benchmark: a row must not be
 * measured over a broken engine.
 */
import { createServer } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { createHub, createMemoryEngine, type Engine } from '@sse/core'
import { createNatsEngine } from '@sse/nats'
import { sse } from '@sse/node-http'
import { createRedisEngine } from '@sse/redis'
import { Cluster } from 'ioredis'
import { epochUs, reportFailures } from './fanout-shared'
import { seededRandom } from './measure'
import { roundProfiler } from './round-profiler'
import {
  type EngineSpec,
  type NodeCommand,
  type NodeReply,
  type NodeSpec,
  type PublishPlan,
  type Tick,
  TOPICS_PER_CONNECTION,
  topicName,
} from './topics-shared'

reportFailures()

/** An error handler that fails the benchmark: tells the parent, then exits. */
function fatal(what: string) {
  return (error: unknown): void => {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
    reply({ type: 'error', message: `${what}: ${message}` })
    setTimeout(() => process.exit(1), 100)
  }
}

function engineOf(spec: EngineSpec): Engine {
  switch (spec.kind) {
    case 'memory':
      return createMemoryEngine()
    case 'redis':
      return createRedisEngine({
        url: spec.url,
        prefix: spec.prefix,
        onError: fatal('Redis engine'),
      })
    case 'cluster':
      return createRedisEngine({
        redis: new Cluster(spec.nodes, { shardedSubscribers: true }),
        quitOnClose: true,
        prefix: spec.prefix,
        onError: fatal('Redis engine'),
      })
    case 'nats':
      return createNatsEngine({
        servers: spec.servers,
        stream: spec.stream,
        subjectPrefix: spec.subjectPrefix,
        replicas: spec.replicas,
        // In memory, as the benchmark's Redis keeps its streams (no RDB, no AOF).
        storage: 'memory',
        onError: fatal('NATS engine'),
      })
  }
}

const spec = JSON.parse(process.argv[2]!) as NodeSpec
const hub = createHub({
  engine: engineOf(spec.engine),
  maxSelectors: TOPICS_PER_CONNECTION,
  onError: fatal('hub'),
  onGap: (_session, gap) =>
    fatal('hub')(new Error(`a session could not be resumed: ${gap.reason}`)),
})
let ready = 0

const stream = sse(
  (session, { req, res }) => {
    const query = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams
    const first = Number(query.get('first'))
    const count = Number(query.get('count'))
    const topics = Array.from({ length: count }, (_, k) => topicName(first + k))
    let live = false
    void hub.subscribe(session, topics).ready.then(() => {
      if (session.closed) return
      live = true
      ready++
    })
    res.once('close', () => {
      if (live) ready--
    })
  },
  { retry: false, heartbeat: false, onError: fatal('handler') },
)
const server = createServer(stream)

function reply(message: NodeReply): void {
  process.send!(message)
}

async function publish(plan: PublishPlan): Promise<void> {
  const random = seededRandom(plan.seed)
  const cpuStart = process.cpuUsage()
  const accepted: Array<Promise<void>> = []
  const started = performance.now()
  let k = 0
  while (k < plan.events) {
    // Catch up with the schedule: a timer fires every ~1 ms at best.
    const due = Math.min(
      plan.events,
      Math.floor(((performance.now() - started) * plan.rate) / 1000) + 1,
    )
    for (; k < due; k++) {
      const tick: Tick = {
        seq: plan.firstSeq + k,
        topic: Math.floor(random() * plan.topics),
        sentAt: epochUs(),
      }
      accepted.push(hub.publish(topicName(tick.topic), tick))
    }
    await sleep(1)
  }
  // A rejected publish throws here, and reportFailures fails the round.
  await Promise.all(accepted)
  const cpu = process.cpuUsage(cpuStart)
  reply({ type: 'published', events: plan.events, cpuUs: cpu.user + cpu.system })
}

const gc = (globalThis as { gc?: () => void }).gc
let cpuStart: NodeJS.CpuUsage | undefined
const profiler = spec.serve ? roundProfiler(`${spec.engine.kind}-${process.pid}`) : undefined

process.on('message', (command: NodeCommand) => {
  switch (command.type) {
    case 'state':
      reply({ type: 'state', sessions: hub.size, ready })
      break
    case 'begin':
      void (async () => {
        gc?.()
        await profiler?.begin(command.topics)
        cpuStart = process.cpuUsage()
        reply({ type: 'begun' })
      })()
      break
    case 'end':
      void (async () => {
        const cpu = process.cpuUsage(cpuStart)
        await profiler?.end()
        reply({ type: 'cpu', cpuUs: cpu.user + cpu.system })
      })()
      break
    case 'publish':
      void publish(command)
      break
    case 'exit':
      void (async () => {
        hub.close()
        server.closeAllConnections()
        server.close()
        await hub.engine.close?.()
        // Not a natural end: ioredis may still hold a reconnect timer or socket.
        process.exit(0)
      })()
  }
})

if (spec.serve) {
  server.listen({ host: '127.0.0.1', port: 0, backlog: 1024 }, () => {
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    reply({ type: 'listening', port: address.port })
  })
} else {
  reply({ type: 'listening', port: 0 })
}
