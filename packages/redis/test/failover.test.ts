import { type ParsedEvent, selectorMatches } from '@sse/core'
import { afterAll, expect, test } from 'vitest'
import { shardKeys } from '../src/keys'
import {
  adminClient,
  describeRedis,
  type OpenStream,
  type Target,
  testRedisAnswers,
  until,
  useTarget,
} from './helpers'
import { isLive, type ServerGroup, serverGroup } from './processes'

// kill -9 of the cluster master that owns a shard while events are being
// published to it with `waitReplicas: 1`; its replica takes over. Clients of
// two server processes must end with every event whose publish resolved
// (the cluster acknowledged it), or with a `resync` event; never an event
// twice without a `resync` in between.

testRedisAnswers()

const TOPICS = Array.from({ length: 24 }, (_, i) => `t/${i}`)
const SELECTORS = [['t/*'], ['t/1', 't/2', 't/3', 't/5', 't/8', 't/13'], ['t/0', 't/4'], ['t/*']]

const topicOf = (data: string) =>
  data.startsWith('last ') ? data.slice(5) : TOPICS[Number(data.slice(1)) % TOPICS.length]!

describeRedis('a cluster master killed mid-publish', () => {
  const on = useTarget('cluster')
  const group = serverGroup(() => on.env())
  afterAll(() => group.stop())

  test('every client ends with every acknowledged event or a resync, none twice', async () => {
    const clients = await connectClients(group)
    const hub = on.hub({ waitReplicas: 1, commandTimeout: 10_000 })
    const cluster = on.cluster()
    // The master of t/0's shard (and of every other shard on that node).
    const victim = await cluster.masterOf(shardKeys(on.prefix, hub.engine.shardOf('t/0')).stream)
    const acknowledged: string[] = []
    let settled = 0
    let sent = 0
    let failedOver = false
    // Four publishers, each its own topics in order, as fast as acknowledgements
    // come, until the replica has taken over (bounded in count too).
    const publishers = Array.from({ length: 4 }, async (_, k) => {
      for (let i = k; i < 2000 && !failedOver; i += 4) {
        sent++
        await hub.publish(TOPICS[i % TOPICS.length]!, `e${i}`).then(
          () => acknowledged.push(`e${i}`),
          () => undefined,
        )
        settled++
      }
    })
    await until(() => acknowledged.length >= 40, 'some events before the kill')
    const inFlight = sent - settled
    await cluster.kill(victim.port)
    const { newMasterPort } = await cluster.waitForFailover(victim.port)
    failedOver = true
    await Promise.all(publishers)
    expect(inFlight).toBeGreaterThan(0)
    expect(newMasterPort).not.toBe(victim.port)
    await finish(on, hub, victim.port, clients, acknowledged)
  }, 90_000)

  test('events the replica never got: whoever saw them gets resync, nothing is lost silently', async () => {
    const clients = await connectClients(group)
    const hub = on.hub({ waitReplicas: 1, commandTimeout: 10_000 })
    // Publishes that are bound to fail WAIT: fail them quickly.
    const doomed = on.hub({ waitReplicas: 1, waitTimeout: 100, commandTimeout: 10_000 })
    const cluster = on.cluster()
    const victim = await cluster.masterOf(shardKeys(on.prefix, hub.engine.shardOf('t/1')).stream)
    const admin = adminClient(`redis://127.0.0.1:${victim.port}`)
    const replication = await admin.info('replication')
    const replicaPort = Number(/slave0:ip=[^,]+,port=(\d+)/.exec(replication)![1])
    const replica = (await cluster.nodes()).find((node) => node.port === replicaPort)!
    const acknowledged: string[] = []
    for (let i = 1; i < 24; i += 4) {
      await hub.publish('t/1', `e${i}`)
      acknowledged.push(`e${i}`)
    }
    // Cut the replica off: stop it, then fill its link with 16 MB so that
    // the master's buffer for it passes a 1-byte limit and the link drops.
    // What follows is delivered live but never acknowledged (WAIT times
    // out), and the replica that takes over will not have it.
    process.kill(replica.pid, 'SIGSTOP')
    let resumed = false
    try {
      await admin.config('SET', 'client-output-buffer-limit', 'replica 1 1 0')
      const stream = shardKeys(on.prefix, hub.engine.shardOf('t/1')).stream
      await admin.set(`${stream}:filler`, 'x'.repeat(16 * 1024 * 1024))
      await until(
        async () => !(await admin.info('replication')).includes('slave0:'),
        'the link to the replica dropped',
      )
      const unacknowledged: string[] = []
      for (let i = 25; i < 45; i += 4) {
        await expect(doomed.publish('t/1', `e${i}`)).rejects.toMatchObject({ code: 'SSE_STORE' })
        unacknowledged.push(`e${i}`)
      }
      const sawThem = clients.filter(({ selectors }) =>
        selectors.some((s) => selectorMatches(s, 't/1')),
      )
      await until(
        () =>
          sawThem.every(({ stream }) => unacknowledged.every((d) => received(stream).includes(d))),
        'the unacknowledged events delivered live',
      )
      await cluster.kill(victim.port)
      process.kill(replica.pid, 'SIGCONT')
      resumed = true
      await cluster.waitForFailover(victim.port)
      await finish(on, hub, victim.port, clients, acknowledged)
      // They received events the log then lost: each of them was told.
      for (const { stream } of sawThem) {
        expect(stream.events.filter((event) => event.type === 'resync').length).toBeGreaterThan(0)
      }
    } finally {
      admin.disconnect()
      if (!resumed) process.kill(replica.pid, 'SIGCONT')
    }
  }, 90_000)
})

type Client = { selectors: string[]; stream: OpenStream }

async function connectClients(group: ServerGroup): Promise<Client[]> {
  const servers = await group.start(2)
  const clients = SELECTORS.map((selectors, i) => ({
    selectors,
    stream: group.connect(servers[i % 2]!, selectors),
  }))
  await until(() => clients.every(({ stream }) => isLive(stream)), 'every client live')
  return clients
}

function received(stream: OpenStream): string[] {
  return stream.events.filter((event) => event.type === 'message').map((event) => event.data)
}

/**
 * Brings the killed master back (as a replica of the new one, so that WAIT 1
 * succeeds again), publishes one last event per topic, and checks what every
 * client ended with.
 */
async function finish(
  on: Target,
  hub: ReturnType<Target['hub']>,
  killedPort: number,
  clients: Client[],
  acknowledged: string[],
): Promise<void> {
  await on.cluster().restart(killedPort)
  for (const topic of TOPICS) {
    await hub.publish(topic, `last ${topic}`).catch(async (error: unknown) => {
      // Failed once in CI (WAIT 1: 0 of 1 replicas acknowledged), not
      // reproduced since: say what every node's replication looked like then.
      const report = await replicationReport(on)
      throw new Error(`publish after the restart failed: ${String(error)}\n${report}`, {
        cause: error,
      })
    })
  }
  for (const { selectors, stream } of clients) {
    const matches = (data: string) => selectors.some((s) => selectorMatches(s, topicOf(data)))
    const finals = TOPICS.map((topic) => `last ${topic}`).filter(matches)
    await until(
      () => finals.every((data) => received(stream).includes(data)),
      'the final events',
      30_000,
    )
    const resyncs = stream.events.filter((event) => event.type === 'resync').length
    if (resyncs === 0) {
      expect(
        acknowledged.filter((data) => matches(data) && !received(stream).includes(data)),
      ).toEqual([])
    }
    for (const run of betweenResyncs(stream.events)) {
      // Once each, and each topic's events in publish order.
      expect(new Set(run).size).toBe(run.length)
      for (const topic of TOPICS) {
        const mine = run.filter((data) => !data.startsWith('last ') && topicOf(data) === topic)
        expect(mine).toEqual([...mine].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))))
      }
    }
  }
}

/** Each running node's role, replicas and offsets (`INFO replication`), one line per node. */
async function replicationReport(on: Target): Promise<string> {
  const lines: string[] = []
  for (const node of await on.cluster().nodes()) {
    const admin = adminClient(`redis://127.0.0.1:${node.port}`)
    try {
      const info = await admin.info('replication')
      const fields = info
        .split('\r\n')
        .filter((line) => /^(role|master_link_status|master_repl_offset|slave\d+):/.test(line))
      lines.push(`${node.port} (${node.role}): ${fields.join(' ')}`)
    } catch (error) {
      lines.push(`${node.port}: ${String(error)}`)
    } finally {
      admin.disconnect()
    }
  }
  return lines.join('\n')
}

/** The data of the events a client received, in runs separated by `resync` events. */
function betweenResyncs(events: ParsedEvent[]): string[][] {
  const runs: string[][] = [[]]
  for (const event of events) {
    if (event.type === 'resync') runs.push([])
    else if (event.type === 'message') runs.at(-1)!.push(event.data)
  }
  return runs
}
