import { createSession, type NodeSessionOptions, type Session } from '@sse/node-http'
import type { DefaultContext, DefaultState, Middleware, ParameterizedContext } from 'koa'

export type { SendOptions, Session, SessionOptions } from '@sse/core'

/**
 * Options for {@link sse}: the session options (`retry`, `heartbeat`,
 * `maxQueueBytes`…), the response `status` and extra `headers`, and `onError`
 * for a handler that fails once the stream is open.
 *
 * @defaultValue `{}`: status 200, a 15 s heartbeat, a 2 s retry hint, errors rethrown to Koa
 * @example
 * ```ts
 * const options: SseOptions = { heartbeat: 30_000, onError: (error) => reportError(error) }
 * ```
 */
export interface SseOptions<StateT = DefaultState, ContextT = DefaultContext>
  extends NodeSessionOptions {
  /**
   * Called with what the handler threw or rejected with once the stream is
   * open (the session is already closed, so no error response is possible).
   *
   * @defaultValue rethrown: Koa's error handling, which emits `error` on the app
   */
  onError?: (error: unknown, ctx: ParameterizedContext<StateT, ContextT>) => void
}

/**
 * Creates a Koa middleware that takes the response over (`ctx.respond =
 * false`), opens an event stream on it, keeping headers set by earlier
 * middleware (`@koa/cors`, `ctx.set()`), and awaits `handler` with the session
 * and `ctx`; a failure before the stream opens is thrown, as in any middleware.
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
  handler: (session: Session, ctx: ParameterizedContext<StateT, ContextT>) => unknown,
  options: SseOptions<StateT, ContextT> = {},
): Middleware<StateT, ContextT> {
  const { onError, ...sessionOptions } = options
  return async (ctx) => {
    // Koa's `ctx.set()` writes to `ctx.res` at once, so CORS and custom
    // headers are already there for node-http to keep.
    const session = createSession(ctx.req, ctx.res, sessionOptions)
    // Koa, and koa-compress after `await next()`, leave the response alone.
    ctx.respond = false
    try {
      await handler(session, ctx)
    } catch (error) {
      session.close()
      if (onError === undefined) throw error
      onError(error, ctx)
    }
  }
}
