// Runs under Node >= 22 (Miniflare's requirement), in a directory where
// `miniflare` and `esbuild` are installed: bundles a Worker module the way
// wrangler would (the built @sse/core, workerd conditions) and reads the
// events of one request through the real workerd.
// argv: <worker entry> <@sse/core dist/index.js> <path> <count> <bindings JSON>
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'

const [entry, core, path, count, bindings] = process.argv.slice(2)
const { createParser } = await import(core)
const bundle = await build({
  entryPoints: [entry],
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'neutral',
  conditions: ['workerd', 'worker', 'import'],
  alias: { '@sse/core': core },
})
const mf = new Miniflare({
  modules: true,
  script: bundle.outputFiles[0].text,
  compatibilityDate: '2025-09-01',
  bindings: JSON.parse(bindings),
})
try {
  const controller = new AbortController()
  const response = await mf.dispatchFetch(`http://localhost${path}`, { signal: controller.signal })
  const events = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  const reader = response.body.getReader()
  while (events.length < Number(count)) {
    const { done, value } = await reader.read()
    if (done) break
    parser.feed(value)
  }
  await reader.cancel()
  const headers = Object.fromEntries(response.headers)
  process.stdout.write(JSON.stringify({ status: response.status, headers, events }))
} finally {
  await mf.dispose()
}
