import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'
import { runOnNode, toolDir } from '../../test-utils/src/runtimes'

// The README's Workers example on the real workerd, through Miniflare (which
// needs Node >= 22: it runs in a child process on Node 24 from the npm
// registry, with the tools installed outside the workspace).
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

test('examples/workers.ts streams under workerd: hello with the env binding, then ticks', async () => {
  const dir = await toolDir('workerd', ['miniflare@4', 'esbuild@0.27'])
  // Next to its dependencies, so that `miniflare` and `esbuild` resolve.
  const script = join(dir, 'run-worker.mjs')
  copyFileSync(here('./workerd/run.mjs'), script)
  const output = await runOnNode(
    24,
    script,
    [
      here('../examples/workers.ts'),
      here('../dist/index.js'),
      '/events',
      '3',
      JSON.stringify({ GREETING: 'hi from workerd' }),
    ],
    { cwd: dir },
  )
  const { status, headers, events } = JSON.parse(output) as {
    status: number
    headers: Record<string, string>
    events: Array<{ type: string; data: string }>
  }
  expect(status).toBe(200)
  expect(headers['content-type']).toBe('text/event-stream; charset=utf-8')
  expect(events.map((e) => e.type)).toEqual(['hello', 'tick', 'tick'])
  expect(JSON.parse(events[0]!.data)).toEqual({ greeting: 'hi from workerd' })
}, 300_000)
