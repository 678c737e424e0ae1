import { expect, test } from 'vitest'
import { run } from '../bench/latency'
import { describeRedis, REDIS_URL, testRedisAnswers } from './helpers'

testRedisAnswers()

describeRedis('the latency benchmark', () => {
  // It forks the engine server by path: when that file moved, `pnpm bench`
  // failed at this question and nothing else noticed.
  test('starts its server processes and delivers every event of a short run', async () => {
    const rows = await run({ rate: 200, durationMs: 500, redisUrl: REDIS_URL })
    expect(rows.map((row) => [row.contender, row.delivered])).toEqual([
      ['memory (1 process)', 100],
      ['redis (2 processes)', 100],
    ])
  }, 60_000)
})
