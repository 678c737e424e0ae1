import { createHub } from '@sse/core'
import { fastifySse, sse } from '@sse/fastify'
import Fastify from 'fastify'

export const hub = createHub()
export const app = Fastify()
// Defaults for every stream of the app; `app.close()` ends open streams.
app.register(fastifySse, { heartbeat: 30_000 })

// Reconnecting clients get what they missed (Last-Event-ID), then live events.
app.get(
  '/news',
  sse((session) => hub.subscribe(session, 'news').ready),
)

// The same with the reply in hand: reply.sse() returns the session.
app.get('/rooms/:id', (request, reply) => {
  const { id } = request.params as { id: string }
  const session = reply.sse()
  if (session === undefined) return reply // over the `limit`: a 429 was sent
  return hub.subscribe(session, `rooms/${id}`).ready
})

export const listening = app.listen({ port: Number(process.env.PORT ?? 3000) })
