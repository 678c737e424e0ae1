import { createHub } from '@sse/core'
import { sse } from '@sse/express'
import compression from 'compression'
import cors from 'cors'
import express, { type Express } from 'express'

export const hub = createHub()
export const app: Express = express()
app.use(compression(), cors({ origin: 'https://app.example' }))

// Reconnecting clients get what they missed (Last-Event-ID), then live events.
app.get(
  '/news',
  sse((session) => hub.subscribe(session, 'news').ready, { heartbeat: 30_000 }),
)

// Name route parameters: Express cannot infer them through a wrapper.
app.get(
  '/rooms/:id',
  sse<{ id: string }>((session, { req }) => hub.subscribe(session, `rooms/${req.params.id}`).ready),
)

export const server = app.listen(Number(process.env.PORT ?? 3000))
