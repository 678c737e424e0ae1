import type { OutgoingHttpHeaders } from 'node:http'
import { createSession, type NodeSessionOptions, type Session } from '@sse/node-http'
import type { FastifyPluginCallback, FastifyReply } from 'fastify'
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
