import { runEngineSuite } from '@sse/test-utils/engine-suite'
import { describeNats, streamTarget, testNatsAnswers } from './helpers'

// The engine suite (the same semantics the memory and Redis engines pass),
// on the local NATS: each test its own stream, deleted afterwards.

testNatsAnswers()

describeNats('the NATS engine', () => {
  runEngineSuite('nats', async ({ retain }) => {
    const target = streamTarget()
    return {
      open: () => target.engine(retain === undefined ? {} : { maxLen: retain }),
      cleanup: () => target.stop(),
    }
  })
})
