import { afterAll, beforeAll, describe } from 'vitest'
import { webRuntimes } from './available'
import { type Launched, launch } from './launch'
import { runWebContract } from './web-contract'

// The Web binding (`@sse/core`) and `@sse/hono` on the real runtimes their
// READMEs name. Under CI a runtime that cannot be installed or started
// fails the run; the tools come from the npm registry.
for (const runtime of ['bun', 'deno', 'workerd'] as const) {
  describe.skipIf(!webRuntimes)(runtime, () => {
    let server: Launched | undefined
    beforeAll(async () => {
      server = await launch(runtime)
    }, 240_000)
    afterAll(() => server?.stop())
    runWebContract(`@sse/core on ${runtime}`, () => `${server!.url}/core`)
    runWebContract(`@sse/hono on ${runtime}`, () => `${server!.url}/hono`)
  })
}
