// `pnpm demo` from the repository root. PORT (default 3000) and HOST
// (default 127.0.0.1) pick the address; REDIS_URL makes instances share
// their events through Redis:
//
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3000 pnpm --filter @sse/demo start
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3001 pnpm --filter @sse/demo start
// or, on NATS JetStream, NATS_URL=nats://127.0.0.1:4222 instead of REDIS_URL.
import { createDemo } from './app'
import { createDemoEngine } from './engine'
import { missingVendorFiles } from './http'

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'

const engine = await createDemoEngine()
const demo = createDemo({ engine })

for (const file of missingVendorFiles()) {
  console.warn(`warning: ${file} is missing; run \`pnpm build\` (or \`pnpm demo\` from the root)`)
}

demo.server.once('error', (error: NodeJS.ErrnoException) => {
  console.error(
    error.code === 'EADDRINUSE'
      ? `Port ${port} is taken: try PORT=${port + 1}`
      : `Cannot listen: ${error.message}`,
  )
  process.exit(1)
})

demo.server.listen(port, host, () => {
  // The host only: a URL may carry a password.
  const where =
    engine.kind === 'redis'
      ? `Redis at ${new URL(process.env.REDIS_URL!).host}`
      : engine.kind === 'nats'
        ? `NATS JetStream at ${new URL(process.env.NATS_URL!).host}`
        : 'memory'
  const shown = host.includes(':') ? `[${host}]` : host
  console.log(`@sse demo (events in ${where}): open http://${shown}:${port}/  (Ctrl+C to stop)`)
})

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) process.exit(1)
    stopping = true
    await demo.close()
    await engine.close()
    process.exit(0)
  })
}
