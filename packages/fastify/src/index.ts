import type { OutgoingHttpHeaders } from 'node:http'
import { createSession, type NodeSessionOptions, type Session } from '@sse/node-http'
import type {
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  RouteHandlerMethod,
} from 'fastify'
import fp from 'fastify-plugin'

export type { SendOptions, Session, SessionOptions } from '@sse/core'

/**
 * Options for `reply.sse()` and defaults for every stream of the app: the
 * session options (`retry`, `heartbeat`, `maxQueueBytes`…) plus the response
 * `status` and extra `headers`.
 *
 * @defaultValue `{}`: status `reply.statusCode` (200), a 15 s heartbeat, a 2 s retry hint
 * @example
 * ```ts
 * const options: SseOptions = { heartbeat: 30_000, headers: { 'x-stream': 'clock' } }
 * ```
 */
export type SseOptions = NodeSessionOptions

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Takes over the reply (`reply.hijack()`) and opens an event stream on it,
     * keeping headers set by earlier hooks; returns the session.
     *
     * @defaultValue the options given to `register(fastifySse, …)`
     * @example
     * ```ts
     * app.get('/clock', (request, reply) => {
     *   const session = reply.sse({ heartbeat: 30_000 })
     *   const timer = setInterval(() => session.send({ now: Date.now() }), 1000)
     *   session.signal.addEventListener('abort', () => clearInterval(timer))
     * })
     * ```
     */
    sse(options?: SseOptions): Session
  }
}

const plugin: FastifyPluginCallback<SseOptions> = (fastify, defaults, done) => {
  const open = new Set<Session>()
  fastify.decorateReply('sse', function sse(this: FastifyReply, options: SseOptions = {}) {
    // Hooks such as @fastify/cors set headers on the reply, not on `raw`.
    const earlier = this.getHeaders() as OutgoingHttpHeaders
    const headers = { ...earlier, ...defaults.headers, ...options.headers }
    const session = createSession(this.request.raw, this.raw, {
      status: this.statusCode,
      ...defaults,
      ...options,
      headers,
    })
    // After, not before: if opening throws, Fastify still answers the error.
    this.hijack()
    open.add(session)
    session.signal.addEventListener('abort', () => open.delete(session), { once: true })
    return session
  })
  // An open stream never goes idle, so `close()` would wait on it forever;
  // ending it lets the client reconnect to another instance, like @fastify/websocket.
  fastify.addHook('preClose', (hookDone) => {
    for (const session of open) session.close()
    hookDone()
  })
  done()
}

/**
 * The Fastify plugin that adds `reply.sse()` to every route of the app; its
 * options are defaults for every stream, and `app.close()` ends open streams.
 *
 * @defaultValue no options: each stream uses the `@sse/core` defaults
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { fastifySse } from '@sse/fastify'
 *
 * const app = Fastify()
 * await app.register(fastifySse, { heartbeat: 30_000 })
 * app.get('/events', (request, reply) => {
 *   reply.sse().send({ hello: 'world' })
 * })
 * ```
 */
export const fastifySse = fp(plugin, { fastify: '5.x', name: '@sse/fastify' })

/** Options for {@link sse}: `reply.sse()`'s options plus where handler errors go. */
export interface SseHandlerOptions extends SseOptions {
  /**
   * Called with what the handler threw or rejected with (an exception from
   * `session.send` of data that has no JSON form included), after the session
   * was closed: once a reply is hijacked Fastify itself can only log "Reply
   * was already sent" and leaves the stream open.
   *
   * @defaultValue logs it with `request.log.error`
   */
  onError?: (error: unknown, session: Session, request: FastifyRequest, reply: FastifyReply) => void
}

/**
 * A route handler that opens an event stream with `reply.sse(options)` and
 * runs `handler(session, request, reply)`; when it throws or rejects, the
 * session is closed and the error goes to `onError`. Needs the plugin
 * registered.
 *
 * @defaultValue `options` is `{}`
 * @example
 * ```ts
 * app.get('/ticks', sse(async (session) => {
 *   for await (const tick of ticks()) session.send(tick)
 * }, { onError: (error, session, request) => request.log.warn(error) }))
 * ```
 */
export function sse(
  handler: (session: Session, request: FastifyRequest, reply: FastifyReply) => unknown,
  options: SseHandlerOptions = {},
): RouteHandlerMethod {
  const { onError, ...sessionOptions } = options
  return function sseRoute(request, reply) {
    const session = reply.sse(sessionOptions)
    const fail = (error: unknown): void => {
      session.close()
      if (onError === undefined)
        request.log.error({ err: error }, '@sse/fastify: the handler failed')
      else onError(error, session, request, reply)
    }
    try {
      const result = handler(session, request, reply)
      if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
        Promise.resolve(result)
          .catch(fail)
          // An onError that throws must not become an unhandled rejection.
          .catch((error: unknown) =>
            request.log.error({ err: error }, '@sse/fastify: onError threw'),
          )
      }
    } catch (error) {
      fail(error)
    }
  }
}
