import { createServer } from 'node:http'
import { createHub } from '@sse/core'
import { sse } from '@sse/node-http'

export const hub = createHub()

// GET /?room=lobby: that room's events; a reconnect resumes from Last-Event-ID.
export const server = createServer(
  sse((session, { req }) => {
    const room = new URL(req.url ?? '/', 'http://localhost').searchParams.get('room') ?? 'lobby'
    if (!/^\w{1,32}$/.test(room)) return session.close()
    return hub.subscribe(session, `rooms/${room}`).ready
  }),
).listen(Number(process.env.PORT ?? 3000))
