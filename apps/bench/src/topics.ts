/**
 * Question: does the cost of a delivered event stay the same as the number of
 * topics grows (issue 10's target: at 10,000 topics, broker CPU and server CPU
 * per delivered event at most 1.5x their values at 1 topic; 100,000 topics
 * work)? And what do idle topics and subscriptions cost in memory?
 *
 * At 1, 1,000, 10,000 and 100,000 topics, on five engines (one case each):
 * the memory engine in one process (the baseline), one Redis, a local Redis
 * Cluster of 3 masters and 3 replicas, one NATS JetStream server and a local
 * 3-node JetStream cluster (issue 16), each with 2 server processes
 * (`topics-deployment.ts`). Real HTTP SSE connections, each subscribed to up
 * to 100 exact topics, so that every topic has exactly one subscribed
 * connection per server: every event is delivered exactly twice at every
 * number of topics (`topics-shared.ts`), and only the number of topics,
 * connections and subscriptions changes between rows. A publisher sends
 * 2,000 events/s for 3 s to random topics, each event carrying its send time.
 *
 * A round connects the connections of one number of topics, waits until
 * every subscription is live, publishes, waits until every event has arrived
 * once per group (the clients check each delivery, `topics-clients.ts`, and
 * fail the round otherwise), then disconnects. Per round:
 * - server CPU per delivered event: `process.cpuUsage()` of the serving
 *   processes, summed, from before the first publish until the clients have
 *   every event, over the deliveries (the memory engine's one process also
 *   publishes);
 * - broker CPU per delivered event over the same window: Redis's `INFO cpu`
 *   (`used_cpu_sys + used_cpu_user`), summed over the masters (the
 *   cluster's replicas apart); nats-server's `utime + stime` from `/proc`,
 *   summed over its nodes (`nats-cpu.ts`, to 10 ms per process);
 * - latency p50/p99: receive time minus the send time in the event, over all
 *   deliveries (`epochUs`: one time base across processes).
 * Rounds of the four topic counts interleave in rotating order after one
 * warm-up round; rows show the median of the rounds and its spread.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { median, type Row } from './measure'
import { type Deployment, deploy, type EngineKind } from './topics-deployment'
import { idleRows } from './topics-idle'
import { GROUPS, slicesOf, TOPICS_PER_CONNECTION } from './topics-shared'

export const question = 'topics'

const KINDS = {
  'memory engine': 'memory',
  'one Redis': 'redis',
  'Redis Cluster': 'cluster',
  'NATS JetStream': 'nats',
  'NATS JetStream cluster': 'nats-cluster',
  'idle memory per topic and subscription': 'idle',
} as const

export const cases = Object.keys(KINDS) as (keyof typeof KINDS)[]

const TOPIC_COUNTS = [1, 1_000, 10_000, 100_000] as const
const RATE = 2000
const EVENTS = 6000
const ROUNDS = 3
/** The target of issue 10: per delivered event at 10,000 topics, at most this times 1 topic. */
const TARGET_RATIO = 1.5
const TARGET_TOPICS = 10_000

interface Sample {
  deliveries: number
  bytes: number
  serverUs: number
  publisherUs: number
  brokerUs: number | undefined
  replicasUs: number | undefined
  p50Us: number
  p99Us: number
  spanUs: number
}

/** Progress on stderr: `run.ts` keeps it out of the table, a direct `--case` run shows it. */
function log(line: string): void {
  process.stderr.write(`topics ${((performance.now() - started) / 1000).toFixed(1)} s: ${line}\n`)
}
const started = performance.now()

/** Polls the servers until each has `expected(server)` sessions (and as many live, if `live`). */
async function untilSessions(d: Deployment, expected: (server: number) => number, live: boolean) {
  const deadline = Date.now() + 60_000
  for (;;) {
    for (const server of d.servers) server.send({ type: 'state' })
    const states = await Promise.all(d.servers.map((server) => server.next('state', 30)))
    if (states.every((s, i) => s.sessions === expected(i) && (!live || s.ready === expected(i)))) {
      return
    }
    if (Date.now() > deadline) {
      throw new Error(
        `servers have ${JSON.stringify(states)}, want ${d.servers.map((_, i) => expected(i))}`,
      )
    }
    await sleep(20)
  }
}

async function round(
  d: Deployment,
  topics: number,
  events: number,
  firstSeq: number,
): Promise<Sample> {
  const perGroup = slicesOf(topics).length
  const perServer = (server: number) =>
    d.serverOfGroup.filter((owner) => owner === server).length * perGroup
  d.clients.send({ type: 'connect', topics, ports: d.ports })
  await d.clients.next('connected', 120)
  await untilSessions(d, perServer, true)

  const seconds = events / RATE
  d.clients.send({ type: 'expect', events, firstSeq, timeoutMs: (seconds + 30) * 1000 })
  await d.clients.next('expecting', 10)
  for (const server of d.servers) server.send({ type: 'begin', topics })
  await Promise.all(d.servers.map((server) => server.next('begun', 10)))
  const [brokerBefore, replicasBefore] = await Promise.all([
    d.broker?.cpu.read(),
    d.broker?.replicas?.read(),
  ])
  d.publisher.send({ type: 'publish', topics, events, rate: RATE, firstSeq, seed: firstSeq + 1 })
  const [published, received] = await Promise.all([
    d.publisher.next('published', seconds + 60),
    d.clients.next('received', seconds + 60),
  ])
  const [brokerAfter, replicasAfter] = await Promise.all([
    d.broker?.cpu.read(),
    d.broker?.replicas?.read(),
  ])
  for (const server of d.servers) server.send({ type: 'end' })
  const cpus = await Promise.all(d.servers.map((server) => server.next('cpu', 10)))

  d.clients.send({ type: 'disconnect' })
  await d.clients.next('disconnected', 30)
  await untilSessions(d, () => 0, false)

  // The clients checked every delivery; this makes sure they counted them all.
  if (published.events !== events || received.deliveries !== events * GROUPS) {
    throw new Error(
      `${topics} topics: published ${published.events}, delivered ${received.deliveries}, expected ${events * GROUPS}`,
    )
  }
  const difference = (after: number | undefined, before: number | undefined) =>
    after === undefined || before === undefined ? undefined : after - before
  return {
    deliveries: received.deliveries,
    bytes: received.bytes,
    serverUs: cpus.reduce((sum, cpu) => sum + cpu.cpuUs, 0),
    publisherUs: published.cpuUs,
    brokerUs: difference(brokerAfter, brokerBefore),
    replicasUs: difference(replicasAfter, replicasBefore),
    p50Us: received.p50Us,
    p99Us: received.p99Us,
    spanUs: received.spanUs,
  }
}

export async function run(caseName: string): Promise<Row[]> {
  const kind = KINDS[caseName as keyof typeof KINDS]
  if (kind === 'idle') return idleRows(question, caseName)
  const d = await deploy(kind)
  const samples = new Map<number, Sample[]>(TOPIC_COUNTS.map((topics) => [topics, []]))
  try {
    log(`${kind}: deployed`)
    let seq = 0
    // JIT, connections to the broker, socket buffers: not measured.
    await round(d, 1_000, RATE / 2, seq)
    seq += RATE / 2
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < TOPIC_COUNTS.length; k++) {
        const topics = TOPIC_COUNTS[(k + r) % TOPIC_COUNTS.length]!
        samples.get(topics)!.push(await round(d, topics, EVENTS, seq))
        seq += EVENTS
        log(`${kind}: ${topics} topics, round ${r + 1} of ${ROUNDS}`)
      }
    }
  } finally {
    await d.stop()
  }
  return rowsOf(kind, d, samples)
}

function perEvent(samples: Sample[], pick: (s: Sample) => number | undefined) {
  const values = samples.map((s) => pick(s)! / s.deliveries)
  const middle = median(values)
  return {
    value: middle,
    spread: Math.round(((Math.max(...values) - Math.min(...values)) / 2 / middle) * 100),
  }
}

function us(value: number): string {
  return `${value.toFixed(value < 10 ? 2 : 1)} µs`
}

function ms(microseconds: number): string {
  return `${(microseconds / 1000).toFixed(microseconds < 10_000 ? 2 : 0)} ms`
}

function rowsOf(kind: EngineKind, d: Deployment, samples: Map<number, Sample[]>): Row[] {
  const broker = d.broker
  const summary = TOPIC_COUNTS.map((topics) => {
    const of = samples.get(topics)!
    return {
      topics,
      of,
      server: perEvent(of, (s) => s.serverUs),
      broker: broker === undefined ? undefined : perEvent(of, (s) => s.brokerUs),
      replicas: broker?.replicas === undefined ? undefined : perEvent(of, (s) => s.replicasUs),
      publisher: median(of.map((s) => s.publisherUs / (s.deliveries / GROUPS))),
      p50: median(of.map((s) => s.p50Us)),
      p99: median(of.map((s) => s.p99Us)),
      eventsPerSec: median(of.map((s) => s.deliveries / (s.spanUs / 1e6))),
      bytesPerSec: median(of.map((s) => s.bytes / (s.spanUs / 1e6))),
      delivered: of.reduce((sum, s) => sum + s.deliveries, 0),
    }
  })
  const base = summary[0]!
  const caseText =
    `${d.description}; ${RATE.toLocaleString('en')} events/s × ${EVENTS / RATE} s to random ` +
    `topics, each delivered to ${GROUPS} connections; median of ${ROUNDS} interleaved rounds`
  return summary.map((s) => {
    const perGroup = slicesOf(s.topics).length
    const connections =
      perGroup === 1
        ? `${GROUPS} connections`
        : `${GROUPS} × ${perGroup.toLocaleString('en')} connections × ${TOPICS_PER_CONNECTION} topics`
    const cpu = [
      `server ${us(s.server.value)}`,
      s.broker === undefined ? undefined : `${broker!.name} ${us(s.broker.value)}`,
      s.replicas === undefined ? undefined : `(replicas ${us(s.replicas.value)})`,
    ]
    const publisher = d.publisherServes ? '' : `, publisher ${us(s.publisher)} per event`
    const ratios =
      s === base
        ? ''
        : [
            `server ${(s.server.value / base.server.value).toFixed(2)}x`,
            s.broker === undefined
              ? undefined
              : `${broker!.name} ${(s.broker.value / base.broker!.value).toFixed(2)}x`,
          ]
            .filter(Boolean)
            .join(', ')
    const worst = Math.max(
      s.server.value / base.server.value,
      s.broker === undefined ? 0 : s.broker.value / base.broker!.value,
    )
    const target =
      s.topics === TARGET_TOPICS && kind !== 'memory'
        ? `; target <= ${TARGET_RATIO}x: ${worst <= TARGET_RATIO ? 'met' : 'MISSED'}`
        : ''
    return {
      question,
      case: caseText,
      contender:
        `${s.topics.toLocaleString('en')} topic${s.topics === 1 ? '' : 's'} (${connections}) — CPU per delivered event: ` +
        `${cpu.filter(Boolean).join(', ')}${publisher}; latency p50 ${ms(s.p50)}, p99 ${ms(s.p99)}; ` +
        `delivered ${s.delivered.toLocaleString('en')} = expected`,
      bytesPerSec: s.bytesPerSec,
      eventsPerSec: s.eventsPerSec,
      spread:
        `server ±${s.server.spread}%` +
        (s.broker === undefined ? '' : `, ${broker!.name} ±${s.broker.spread}%`),
      ratio: s === base ? 'the 1-topic baseline' : `vs 1 topic: ${ratios}${target}`,
    }
  })
}
