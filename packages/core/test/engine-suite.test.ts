import { createMemoryEngine } from '@sse/core'
// A relative import, not `@sse/test-utils`: that package depends on @sse/core,
// and a dependency back would be a cycle in the workspace graph.
import { runEngineSuite } from '../../test-utils/src/engine-suite'
import { shardedEngine } from './fixtures'

// The engine suite every engine passes (memory here; @sse/nats and
// @sse/redis run it on theirs): the default memory engine, and the test
// fixture that spreads topics over 4 in-process shards.

runEngineSuite('memory', async ({ retain }) => {
  const engine = createMemoryEngine(retain === undefined ? {} : { maxEvents: retain })
  return { open: () => engine, cleanup: () => undefined }
})

runEngineSuite('4 in-process shards', async ({ retain }) => {
  const engine = shardedEngine(
    retain === undefined ? { shards: 4 } : { shards: 4, maxEvents: retain },
  )
  return { open: () => engine, cleanup: () => undefined }
})
