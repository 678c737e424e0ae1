import { serve } from '@hono/node-server'
import { createHub } from '@sse/core'
import { sse } from '@sse/hono/node'
import { Hono } from 'hono'

export const hub = createHub()
export const app = new Hono()

// The same handler and options as `sse` from '@sse/hono'. On @hono/node-server
// the stream is written to Node's response itself; elsewhere it is a Web stream.
app.get(
  '/ticker',
  sse((session) => hub.subscribe(session, 'ticker').ready),
)

export const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000) })
