import { spawnSync } from 'node:child_process'
import { until } from '@sse/test-utils'
import { type RedisCluster, startRedisCluster } from '@sse/test-utils/redis-cluster'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

// The fixture starts its own redis-server processes; it never uses REDIS_URL.
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false'
const onPath = (command: string) => spawnSync(command, ['--version']).error === undefined
const redisInstalled = onPath('redis-server') && onPath('redis-cli')

if (!redisInstalled && !inCi) {
  console.warn(
    '@sse/redis: redis-server or redis-cli is not on PATH; skipping the Redis Cluster fixture tests. ' +
      'Install Redis (apt-get install redis-server). Under CI=true they run and fail.',
  )
}

test.runIf(inCi)('redis-server and redis-cli are on PATH (required under CI)', () => {
  expect(redisInstalled, 'redis-server and redis-cli must be on PATH').toBe(true)
})

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw error
  }
}

/** Resolves with the next `smessage` on `channel` whose payload is `message`. */
function nextMessage(client: Cluster, channel: string, message: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (from: string, payload: string) => {
      if (from !== channel || payload !== message) return
      client.off('smessage', listener)
      resolve()
    }
    client.on('smessage', listener)
  })
}

describe.skipIf(!redisInstalled && !inCi)('startRedisCluster', { timeout: 60_000 }, () => {
  let redis: RedisCluster
  let client: Cluster
  const pids = new Set<number>()
  // Same hash tag, same slot: the subscription lives on the master that gets killed.
  const key = '{fixture}:key'
  const channel = '{fixture}:channel'

  beforeAll(async () => {
    redis = await startRedisCluster()
    client = new Cluster(redis.startupNodes, { shardedSubscribers: true })
    // The sharded subscribers emit `error` on every failed reconnect while a master is down.
    client.on('error', () => undefined)
  }, 60_000)

  afterAll(async () => {
    client?.disconnect()
    await redis?.stop()
  })

  test('forms 3 masters and 3 replicas that cover every slot', async () => {
    const nodes = await redis.nodes()
    for (const node of nodes) pids.add(node.pid)
    expect(redis.startupNodes).toHaveLength(6)
    expect(redis.startupNodes.map(({ port }) => port)).not.toContain(6379)
    expect(nodes.filter((node) => node.role === 'master')).toHaveLength(3)
    expect(nodes.filter((node) => node.role === 'replica')).toHaveLength(3)
    const ranges = nodes.flatMap((node) => node.slots).sort(([a], [b]) => a - b)
    expect(ranges[0]![0]).toBe(0)
    expect(ranges.at(-1)![1]).toBe(16_383)
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBe(ranges[i - 1]![1] + 1)
  })

  test('a Cluster client writes and reads, and SPUBLISH reaches SSUBSCRIBE', async () => {
    await client.set(key, 'before failover')
    expect(await client.get(key)).toBe('before failover')
    await client.ssubscribe(channel)
    const received = nextMessage(client, channel, 'hello')
    expect(await client.spublish(channel, 'hello')).toBe(1)
    await received
  })

  test('after kill -9 of a master, its replica takes over; the key and the subscription follow', async () => {
    await redis.waitForReplication()
    const oldMaster = await redis.masterOf(key)
    await redis.kill(oldMaster.port)
    expect(isAlive(oldMaster.pid)).toBe(false)

    const { newMasterPort } = await redis.waitForFailover(oldMaster.port)
    expect(newMasterPort).not.toBe(oldMaster.port)
    expect((await redis.masterOf(key)).port).toBe(newMasterPort)
    await until(
      async () => (await client.get(key).catch(() => null)) === 'before failover',
      'the key to be readable through the Cluster client after the failover',
      20_000,
    )

    // ioredis re-sends SSUBSCRIBE to the new master on its own; wait until the server has it.
    const newMaster = new Redis({ host: '127.0.0.1', port: newMasterPort })
    try {
      await until(
        async () => {
          const [, count] = (await newMaster.call('PUBSUB', 'SHARDNUMSUB', channel)) as [
            string,
            number,
          ]
          return count === 1
        },
        'the sharded subscription to move to the new master',
        20_000,
      )
    } finally {
      newMaster.disconnect()
    }
    const received = nextMessage(client, channel, 'after failover')
    expect(await client.spublish(channel, 'after failover')).toBe(1)
    await received

    await redis.restart(oldMaster.port)
    const nodes = await redis.nodes()
    for (const node of nodes) pids.add(node.pid)
    expect(nodes.find((node) => node.port === oldMaster.port)?.role).toBe('replica')
  })

  test('stop() leaves no process behind and may be called again', async () => {
    client.disconnect()
    await redis.stop()
    await redis.stop()
    expect(pids.size).toBe(7)
    for (const pid of pids) expect(isAlive(pid), `redis-server ${pid} is still running`).toBe(false)
  })
})
