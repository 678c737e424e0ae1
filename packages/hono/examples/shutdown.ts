import { serve } from '@hono/node-server'
import { createDrainer, createHub } from '@sse/core'
import { sse } from '@sse/hono'
import { Hono } from 'hono'

const hub = createHub()
// One drainer for every stream route of the app.
const drainer = createDrainer()
const app = new Hono()
app.get(
  '/news',
  sse((session) => hub.subscribe(session, 'news').ready, { drainer }),
)

export const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000) })

// A deploy sends SIGTERM: take no new streams, close the open ones spread
// over the window (each told to come back in about 2 s, to another
// instance, resuming from its Last-Event-ID), then close the server.
process.once('SIGTERM', async () => {
  await drainer.drain({ window: Number(process.env.DRAIN_WINDOW_MS ?? 10_000) })
  server.close()
  hub.close()
})
