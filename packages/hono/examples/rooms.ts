import { serve } from '@hono/node-server'
import { createHub } from '@sse/core'
import { sse } from '@sse/hono'
import { Hono } from 'hono'

export const hub = createHub()
export const app = new Hono()

// Reconnecting clients get what they missed (Last-Event-ID), then live events.
app.get(
  '/rooms/:id',
  sse((session, c) => hub.subscribe(session, `rooms/${c.req.param('id')}`).ready, {
    heartbeat: 30_000,
  }),
)
app.post('/rooms/:id', async (c) => {
  await hub.publish(`rooms/${c.req.param('id')}`, await c.req.text())
  return c.body(null, 204)
})

// On Node. On Bun, Deno and Workers, `export default app` instead.
export const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000) })
