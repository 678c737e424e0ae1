import type { RedisEngine } from '@sse/redis'
import { runEngineSuite } from '@sse/test-utils/engine-suite'
import { describeRedis, target, testRedisAnswers, uniquePrefix, useTarget } from './helpers'

// The engine suite (the semantics the memory and NATS engines pass too) on
// the shared Redis: each test its own key prefix, deleted afterwards. `maxLen`
// trims approximately (XADD MAXLEN ~), so `retain` is a lower bound there:
// the suite publishes 40 times as many events to expire a position.

testRedisAnswers()

describeRedis('the Redis engine', () => {
  runEngineSuite('redis', async ({ retain }) => {
    const on = target('redis', uniquePrefix())
    await on.start()
    return {
      open: () => on.engine(retain === undefined ? {} : { maxLen: retain }),
      cleanup: () => on.stop(),
    }
  })
})

describeRedis('the Redis engine on a Redis Cluster (3 masters, 3 replicas)', () => {
  // One cluster for the file; each test its own key prefix.
  const on = useTarget('cluster')
  runEngineSuite('redis cluster', async ({ retain }) => {
    const prefix = uniquePrefix()
    const engines: RedisEngine[] = []
    return {
      open: () => {
        const engine = on.engine({ prefix, ...(retain === undefined ? {} : { maxLen: retain }) })
        engines.push(engine)
        return engine
      },
      cleanup: async () => {
        await Promise.all(engines.map((engine) => engine.close()))
      },
    }
  })
})
