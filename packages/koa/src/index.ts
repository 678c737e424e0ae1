import {
  createStreamHandler,
  type StreamBinding,
  type StreamHandler,
  type StreamOptions,
} from '@sse/core'
import { nodeBinding } from '@sse/node-http'
import type { DefaultContext, DefaultState, Middleware, ParameterizedContext } from 'koa'

export type { SendOptions, Session, SessionOptions } from '@sse/core'

/**
 * Options for {@link sse}: the session options (`retry`, `heartbeat`,
 * `maxQueueBytes`…), extra `headers`, a connection `limit` and `onError`.
 *
 * @defaultValue `{}`: a 15 s heartbeat, a 2 s retry hint, errors to the app's `error` event
 * @example
 * ```ts
 * const options: SseOptions = { heartbeat: 30_000, onError: (error) => reportError(error) }
 * ```
 */
export type SseOptions<StateT = DefaultState, ContextT = DefaultContext> = StreamOptions<
  ParameterizedContext<StateT, ContextT>
>

const binding: StreamBinding<ParameterizedContext, void> = {
  lastEventId: (ctx) => ctx.get('last-event-id') || undefined,
  url: (ctx) => ctx.url,
  refuse(ctx, status, headers, body) {
    // Koa answers it, through any middleware after us (koa-compress…).
    ctx.status = status
    for (const [name, value] of headers) {
      if (name === 'set-cookie') ctx.append(name, value)
      else ctx.set(name, value)
    }
    ctx.body = body
  },
  open(ctx, headers, config) {
    // Koa, and koa-compress after `await next()`, leave the response to us.
    // `ctx.set()` by earlier middleware wrote to `ctx.res` at once, so
    // node-http keeps CORS and custom headers.
    ctx.respond = false
    return nodeBinding.open(ctx, headers, config)
  },
  // Koa's error handling: `app.on('error')`, logged by default.
  reportError: (error, _session, ctx) => void ctx.app.emit('error', error, ctx),
}

/**
 * Creates a Koa middleware that takes the response over (`ctx.respond =
 * false`), opens an event stream, keeping headers set by earlier middleware
 * (`@koa/cors`, `ctx.set()`), and runs `handler(session, ctx)`. A handler
 * that throws or rejects closes its session and goes to `onError`, else to
 * the app's `error` event; over the `limit` the answer is `429` and the
 * handler does not run.
 *
 * @defaultValue `options` is `{}`
 * @example
 * ```ts
 * import Koa from 'koa'
 * import { sse } from '@sse/koa'
 *
 * const app = new Koa<{ user: string }>()
 * app.use(sse((session, ctx) => {
 *   session.send({ hello: ctx.state.user })
 * }))
 * ```
 */
export function sse<StateT = DefaultState, ContextT = DefaultContext>(
  handler: StreamHandler<ParameterizedContext<StateT, ContextT>>,
  options?: SseOptions<StateT, ContextT>,
): Middleware<StateT, ContextT> {
  const serve = createStreamHandler(
    binding as unknown as StreamBinding<ParameterizedContext<StateT, ContextT>, void>,
    handler,
    options,
  )
  return async (ctx) => serve(ctx)
}
