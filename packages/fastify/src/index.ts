import {
  createStreamHandler,
  openStream,
  resolveStreamOptions,
  type Session,
  type StreamBinding,
  type StreamConfig,
  type StreamHandler,
  type StreamOptions,
} from '@sse/core'
import { nodeBinding } from '@sse/node-http'
import type {
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  RouteHandlerMethod,
} from 'fastify'
import fp from 'fastify-plugin'

export type { SendOptions, Session, SessionOptions } from '@sse/core'

/** What a Fastify stream handler gets besides its session. */
export interface FastifyContext {
  request: FastifyRequest
  reply: FastifyReply
}

/**
 * Options for {@link sse} and `reply.sse()`, and the plugin's defaults for
 * every stream of the app: the session options (`retry`, `heartbeat`,
 * `maxQueueBytes`…), extra `headers`, a connection `limit` and `onError`.
 *
 * @defaultValue `{}`: a 15 s heartbeat, a 2 s retry hint, errors to `request.log.error`
 * @example
 * ```ts
 * const options: SseOptions = { heartbeat: 30_000, headers: { 'x-stream': 'clock' } }
 * ```
 */
export type SseOptions = StreamOptions<FastifyContext>

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Takes over the reply (`reply.hijack()`) and opens an event stream on
     * it, keeping headers set by earlier hooks; returns the session, or
     * `undefined` when the `limit` refused it (the reply is then a `429`).
     *
     * @defaultValue the options given to `register(fastifySse, …)`
     * @example
     * ```ts
     * app.get('/clock', (request, reply) => {
     *   const session = reply.sse({ heartbeat: 30_000 })
     *   if (session === undefined) return reply // 429 over the limit
     *   const timer = setInterval(() => session.send({ now: Date.now() }), 1000)
     *   session.signal.addEventListener('abort', () => clearInterval(timer))
     * })
     * ```
     */
    sse(options?: SseOptions): Session | undefined
  }
}

const kState = Symbol.for('@sse/fastify.state')

/** What the plugin keeps per app: its defaults, and the open streams to end on close. */
interface PluginState {
  defaults: SseOptions
  /** Route configs by the route's own options, merged with the defaults once. */
  configs: WeakMap<SseOptions, StreamConfig<FastifyContext>>
  track(session: Session | undefined): void
}

const binding: StreamBinding<FastifyContext, void> = {
  lastEventId: ({ request }) => firstValue(request.headers['last-event-id']),
  url: ({ request }) => request.url,
  refuse({ reply }, status, headers, body) {
    // Fastify answers it, through its hooks (onSend, compression).
    for (const [name, value] of headers) void reply.header(name, value)
    void reply.code(status).send(body)
  },
  open({ request, reply }, headers, transport) {
    // Hooks such as @fastify/cors set headers on the reply, not on `raw`.
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) reply.raw.setHeader(name, value)
    }
    reply.hijack()
    return nodeBinding.open({ req: request.raw, res: reply.raw }, headers, transport)
  },
  // Once a reply is hijacked Fastify itself could only log "Reply was
  // already sent" and leave the stream open.
  reportError: (error, _session, { request }) =>
    request.log.error({ err: error }, '@sse/fastify: the stream handler failed'),
}

const plugin: FastifyPluginCallback<SseOptions> = (fastify, defaults, done) => {
  try {
    // Checked at register: a bad default fails the app's startup.
    resolveStreamOptions(defaults)
  } catch (error) {
    done(error as Error)
    return
  }
  const open = new Set<Session>()
  const state: PluginState = {
    defaults,
    configs: new WeakMap(),
    track(session) {
      if (session === undefined || session.closed) return
      open.add(session)
      session.signal.addEventListener('abort', () => open.delete(session), { once: true })
    },
  }
  fastify.decorate(kState, state)
  fastify.decorateReply('sse', function sse(this: FastifyReply, options?: SseOptions) {
    const context = { request: this.request, reply: this }
    const { session } = openStream(binding, context, configFor(state, options ?? NO_OPTIONS))
    state.track(session)
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

const NO_OPTIONS: SseOptions = {}

function configFor(state: PluginState, options: SseOptions): StreamConfig<FastifyContext> {
  let config = state.configs.get(options)
  if (config === undefined) {
    const { defaults } = state
    const headers = new Headers(defaults.headers)
    for (const [name, value] of new Headers(options.headers)) {
      if (name !== 'set-cookie') headers.set(name, value)
    }
    for (const cookie of new Headers(options.headers).getSetCookie())
      headers.append('set-cookie', cookie)
    config = resolveStreamOptions({ ...defaults, ...options, headers })
    state.configs.set(options, config)
  }
  return config
}

/**
 * The Fastify plugin: `reply.sse()` on every route and the defaults for
 * every stream of the app (its options); `app.close()` ends open streams.
 *
 * @defaultValue no options: each stream uses the `@sse/core` defaults
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { fastifySse } from '@sse/fastify'
 *
 * const app = Fastify()
 * app.register(fastifySse, { heartbeat: 30_000 })
 * ```
 */
export const fastifySse = fp(plugin, { fastify: '5.x', name: '@sse/fastify' })

/**
 * A route handler that opens an event stream and runs `handler(session, {
 * request, reply })`. A handler that throws or rejects closes its session
 * and goes to `onError`, else to `request.log.error`; over the `limit` the
 * answer is `429` and the handler does not run. Needs the plugin
 * registered; its options are merged over the plugin's.
 *
 * @defaultValue `options` is `{}`
 * @example
 * ```ts
 * app.get('/ticks', sse(async (session) => {
 *   for await (const tick of ticks()) session.send(tick)
 * }, { onError: (error, session, { request }) => request.log.warn(error) }))
 * ```
 */
export function sse(
  handler: StreamHandler<FastifyContext>,
  options: SseOptions = {},
): RouteHandlerMethod {
  // Misuse fails here, at the route's definition.
  createStreamHandler(binding, handler, options)
  return function sseRoute(request, reply) {
    const state = (request.server as unknown as { [kState]?: PluginState })[kState]
    if (state === undefined) {
      throw new TypeError('@sse/fastify: register the plugin first: app.register(fastifySse)')
    }
    const context = { request, reply }
    state.track(openStream(binding, context, configFor(state, options), handler).session)
  }
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
