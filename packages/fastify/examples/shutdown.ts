import { createDrainer, createHub } from '@sse/core'
import { fastifySse, sse } from '@sse/fastify'
import Fastify from 'fastify'

const hub = createHub()
// One drainer for every stream of the app, through the plugin's defaults.
const drainer = createDrainer()
export const app = Fastify()
app.register(fastifySse, { drainer })
app.get(
  '/news',
  sse((session) => hub.subscribe(session, 'news').ready),
)

export const listening = app.listen({ port: Number(process.env.PORT ?? 3000) })

// A deploy sends SIGTERM: take no new streams, close the open ones spread
// over the window (each told to come back in about 2 s, to another
// instance, resuming from its Last-Event-ID), then close the app.
process.once('SIGTERM', async () => {
  await drainer.drain({ window: Number(process.env.DRAIN_WINDOW_MS ?? 10_000) })
  await app.close()
  hub.close()
})
