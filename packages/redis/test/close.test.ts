import { createHub } from '@sse/core'
import { createRedisEngine } from '@sse/redis'
import { trackTimers } from '@sse/test-utils'
import { Redis } from 'ioredis'
import { expect, test } from 'vitest'
import {
  adminClient,
  describeRedis,
  recordingSession,
  testRedisAnswers,
  uniquePrefix,
  until,
} from './helpers'
import { useOwnRedis } from './processes'

// Shutdown, alone in its file so that every timer it counts is the engine's.

testRedisAnswers()

const prefix = uniquePrefix()

describeRedis('close()', () => {
  const redis = useOwnRedis()

  test('connections closed, no timer left behind, a client passed in stays open', async () => {
    const timers = trackTimers()
    const mine = new Redis(redis.url, { connectionName: `${prefix}mine` })
    const admin = adminClient(redis.url)
    const names = async () => [...(String(await admin.client('LIST')).match(/name=\S+/g) ?? [])]
    try {
      const engine = createRedisEngine({ redis: mine, prefix })
      const hub = createHub({ engine })
      const session = recordingSession()
      await hub.subscribe(session.session, ['closing', 'other/*']).ready
      await hub.publish('closing', 'x')
      await until(() => session.events.length === 1, 'the event')
      expect(await names()).toContain(`name=${prefix}mine:sub`)
      hub.close()
      await engine.close()
      await engine.close()
      expect(() => engine.follow(0, { event: () => undefined, reset: () => undefined })).toThrow(
        TypeError,
      )
      await expect(engine.append([0], { topics: ['x'], data: 'late' })).rejects.toMatchObject({
        code: 'SSE_STORE',
      })
      expect(mine.status).toBe('ready')
      expect(await mine.ping()).toBe('PONG')
      await until(
        async () => !(await names()).includes(`name=${prefix}mine:sub`),
        'subscriber closed',
      )
      await mine.quit()
      await until(() => timers.live === 0, 'every timer gone')
    } finally {
      timers.stop()
      admin.disconnect()
    }
  })
})
