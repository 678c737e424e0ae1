import { runEngineSuite } from '@sse/test-utils/engine-suite'
import { describeRedis, target, testRedisAnswers, uniquePrefix } from './helpers'

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
