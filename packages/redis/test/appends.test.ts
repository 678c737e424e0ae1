import { createRedisEngine } from '@sse/redis'
import { Redis } from 'ioredis'
import { expect, test } from 'vitest'
import { createAppender } from '../src/append'
import { createCommandRunner } from '../src/commands'
import { shardKeys } from '../src/keys'
import { encodePayload } from '../src/payload'
import { adminClient, describeRedis, testRedisAnswers, uniquePrefix, until } from './helpers'
import { useOwnRedis } from './processes'

// Appends are idempotent where a resent command could run twice
// (src/append.ts), on a redis-server of this file's own.

testRedisAnswers()

const prefix = uniquePrefix()

describeRedis('idempotent appends', () => {
  const redis = useOwnRedis()

  test('a client that resends after a reconnect: appends whose replies were lost are logged once', async () => {
    // ioredis defaults: commands whose reply has not arrived when the
    // connection drops are sent again after the reconnect.
    const client = new Redis(redis.url)
    client.on('error', () => undefined)
    const engine = createRedisEngine({ redis: client, prefix: `${prefix}resend:`, shards: 1 })
    redis.cleanup(async () => {
      await engine.close()
      client.disconnect()
    })
    const admin = adminClient(redis.url)
    redis.cleanup(() => admin.disconnect())
    const stream = shardKeys(`${prefix}resend:`, 0).stream
    await engine.append([0], { topics: ['resend'], data: 'first' })
    for (let round = 0; round < 3; round++) {
      await until(() => client.status === 'ready' && client.stream.writable, 'the connection')
      const before = await admin.xlen(stream)
      // Redis runs the appends, but their replies are never read: the
      // connection drops with every one of them unanswered.
      client.stream.pause()
      const appends = Array.from({ length: 50 }, (_, i) =>
        engine.append([0], { topics: ['resend'], data: `${round}:${i}` }),
      )
      await until(async () => (await admin.xlen(stream)) === before + 50, 'the appends run')
      client.stream.destroy()
      await Promise.all(appends)
    }
    const read = await engine.read(0, '0.0')
    const logged = read.gap ? [] : read.events.map((event) => event.data)
    expect(logged).toHaveLength(1 + 3 * 50)
    expect(new Set(logged).size).toBe(logged.length)
  })

  test('the same nonce appended twice is logged once and published once', async () => {
    const client = new Redis(redis.url)
    const runner = createCommandRunner(client, 1000)
    const appender = createAppender(runner, client, {
      maxLen: false,
      maxAge: false,
      waitReplicas: 0,
      waitTimeout: 1000,
    })
    const keys = shardKeys(`${prefix}nonce:`, 0)
    const payload = encodePayload({ topics: ['t'], data: 'once' })
    const first = await appender.append(keys, payload, 'nonce-1')
    expect(await appender.append(keys, payload, 'nonce-1')).toBe(first)
    expect(await appender.append(keys, payload, 'nonce-2')).not.toBe(first)
    expect(await client.xlen(keys.stream)).toBe(2)
    runner.close('done')
    await client.quit()
  })
})
