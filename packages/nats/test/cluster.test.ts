import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { createHub } from '@sse/core'
import { createNatsEngine, type NatsEngine } from '@sse/nats'
import { memoryClient, until } from '@sse/test-utils'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { describeNats, testNatsAnswers, uniqueStream } from './helpers'
import { type NatsCluster, startNatsCluster } from './nats-cluster'

// A real 3-node JetStream cluster, started and stopped here, a stream with 3
// replicas, and the stream's leader killed with SIGKILL mid-publish.

testNatsAnswers()

describeNats('a 3-node JetStream cluster', () => {
  let cluster: NatsCluster
  const engines: NatsEngine[] = []
  beforeAll(async () => {
    cluster = await startNatsCluster()
  }, 60_000)
  afterAll(async () => {
    await Promise.all(engines.map((engine) => engine.close()))
    await cluster?.stop()
  }, 30_000)

  test('kill -9 of the stream leader mid-publish: appends retry through the election; live clients on two processes, and a client resuming afterwards, get every acknowledged event once, in order, or a resync', async () => {
    const { stream, subjectPrefix } = uniqueStream()
    const engine = () => {
      const made = createNatsEngine({
        servers: cluster.servers,
        stream,
        subjectPrefix,
        replicas: 3,
        commandTimeout: 10_000,
        onError: () => undefined,
      })
      engines.push(made)
      return made
    }
    // Two processes' hubs on the cluster, live clients on both.
    const hub = createHub({ engine: engine() })
    const other = createHub({ engine: engine() })
    const live = [memoryClient(), memoryClient(), memoryClient(), memoryClient()]
    for (const [i, client] of live.entries()) {
      await (i % 2 ? other : hub).subscribe(client.session, i % 2 ? 'orders/*' : 'orders/1').ready
    }
    // The position before anything was published: a client resumes from it.
    const before = memoryClient()
    await hub.subscribe(before.session, 'orders/1').ready
    const from = before.lastEventId()
    before.disconnect()

    const nc = await connect({ servers: cluster.servers })
    const jsm = await jetstreamManager(nc)
    const acknowledged: string[] = []
    let killed = ''
    for (let n = 0; n < 200; n++) {
      if (n === 80) {
        killed = (await jsm.streams.info(stream)).cluster!.leader!
        void cluster.kill(killed)
      }
      await (n % 2 ? other : hub).publish('orders/1', `e${n}`).then(
        () => acknowledged.push(`e${n}`),
        () => undefined,
      )
    }
    await nc.close()
    expect(killed).toMatch(/^n[012]$/)
    // Before the fix, every append failed from the kill on ("jetstream is not
    // enabled" while the cluster elected a leader was not retried).
    expect(acknowledged.length).toBeGreaterThan(190)

    // The live clients: every acknowledged event once, in order, or a resync.
    // Their consumers on the killed node are replaced (after three missed
    // heartbeats, creation retried every 2 s while the cluster elects
    // leaders): 4 to 7 s after publishing ended in trial runs.
    for (const client of live) {
      await until(
        () =>
          client.resyncs().length > 0 ||
          acknowledged.every((data) => client.messages().includes(data)),
        'every acknowledged event or a resync, live',
        30_000,
      )
      const messages = client.messages()
      expect(new Set(messages).size).toBe(messages.length)
      expect(messages).toEqual(
        [...messages].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))),
      )
    }

    // Another process, after the failover, replays from the old position.
    const later = createHub({ engine: engine() })
    const client = memoryClient(from)
    await later.subscribe(client.session, 'orders/1').ready
    const replayed = client.messages()
    // Never twice; and never lost silently: every acknowledged event, in
    // order, unless the client was told to resync.
    expect(new Set(replayed).size).toBe(replayed.length)
    if (client.resyncs().length === 0) {
      expect(replayed.filter((data) => acknowledged.includes(data))).toEqual(acknowledged)
    } else {
      console.warn('after the failover the resume was a resync:', client.resyncs())
    }
    later.close()
    hub.close()
    other.close()
  }, 120_000)
})
