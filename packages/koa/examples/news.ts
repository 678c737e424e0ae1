import cors from '@koa/cors'
import Router from '@koa/router'
import { createHub } from '@sse/core'
import { sse } from '@sse/koa'
import Koa from 'koa'
import compress from 'koa-compress'

export const hub = createHub()
export const app = new Koa<{ user: string }>()
const router = new Router<{ user: string }>()

// Your authentication would set this; here, a trusted gateway header.
app.use(async (ctx, next) => {
  ctx.state.user = ctx.get('x-user-id') || 'guest'
  await next()
})

// Reconnecting clients get what they missed (Last-Event-ID), then live events.
router.get(
  '/news',
  sse((session) => hub.subscribe(session, 'news').ready, { heartbeat: 30_000 }),
)

// `ctx` is typed from the app: ctx.state.user is a string.
router.get(
  '/me',
  sse((session, ctx) => hub.subscribe(session, `users/${ctx.state.user}`).ready),
)

app
  .use(compress())
  .use(cors({ origin: 'https://app.example' }))
  .use(router.routes())
export const server = app.listen(Number(process.env.PORT ?? 3000))
