import {
  createStreamHandler,
  openResponse,
  type StreamBinding,
  type StreamHandler,
  type StreamOptions,
  webBinding,
} from '@sse/core'
import type { Context, Env, Handler } from 'hono'

export type { SendOptions, Session, SessionOptions } from '@sse/core'

/**
 * Options for {@link sse}: the session options (`retry`, `heartbeat`,
 * `maxQueueBytes`…), extra `headers`, a connection `limit`, the body's
 * `highWaterMark` and `onError`.
 *
 * @defaultValue `{}`: a 15 s heartbeat, a 2 s retry hint
 * @example
 * ```ts
 * const options: SseOptions = { heartbeat: 30_000, onError: (error) => reportError(error) }
 * ```
 */
export type SseOptions = StreamOptions<Context>

/**
 * Hono copies the headers prepared on the context (`c.header()`, cors())
 * over a returned Response, and drops them if `c.res` was never read. Read
 * it, and put ours there so the event-stream ones win.
 */
function withPrepared(c: Context, response: Response): Response {
  const prepared = c.res.headers
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') prepared.append(name, value)
    else prepared.set(name, value)
  }
  return response
}

/**
 * Node's response, seen through what is used here. `@hono/node-server` puts
 * it in `c.env.outgoing`; elsewhere (Bun, Deno, Workers) there is none. Over
 * HTTP/2 it is a compatibility response, whose `stream` says `destroyed`.
 */
interface NodeOutgoing {
  readonly destroyed?: boolean
  readonly stream?: { readonly destroyed: boolean }
  on(event: 'close', listener: () => void): unknown
}

function nodeOutgoing(c: Context): NodeOutgoing | undefined {
  const outgoing = (c.env as { outgoing?: Partial<NodeOutgoing> } | undefined)?.outgoing
  if (typeof outgoing?.on !== 'function') return undefined
  return typeof destroyed(outgoing) === 'boolean' ? (outgoing as NodeOutgoing) : undefined
}

/** Whether the response is gone: its own flag, or over HTTP/2 its stream's. */
function destroyed(outgoing: Partial<NodeOutgoing>): boolean | undefined {
  return outgoing.destroyed ?? outgoing.stream?.destroyed
}

/**
 * On `@hono/node-server`, the client leaving is told by Node's response
 * closing, not by the request's `signal`: reading that makes the server
 * build a whole `Request` per stream (~3 kB of heap), and it fires for a
 * client gone before the server read the body too. `on`, not `once`:
 * 'close' comes once, and `once` adds a wrapper per stream.
 */
function watchClose(outgoing: NodeOutgoing, listener: () => void): void {
  if (destroyed(outgoing)) listener()
  else outgoing.on('close', listener)
}

/** Internal: the Web `Response` binding, shared with `@sse/hono/node`'s fallback. */
export const honoBinding: StreamBinding<Context, Response> = {
  lastEventId: (c) => c.req.header('last-event-id'),
  url: (c) => c.req.url,
  refuse: (c, status, headers, body) =>
    withPrepared(c, webBinding.refuse(c.req.raw, status, headers, body)),
  open(c, headers, transport) {
    const outgoing = nodeOutgoing(c)
    const opened = openResponse(
      c.req.raw,
      headers,
      transport,
      outgoing === undefined ? undefined : (listener) => watchClose(outgoing, listener),
    )
    withPrepared(c, opened.result)
    return opened
  },
  // Rethrown: a synchronous throw becomes Hono's error response
  // (`app.onError`); a rejection is left unhandled for the runtime to report.
  reportError(error) {
    throw error
  },
}

/**
 * Creates a Hono handler that answers with an event stream, like
 * `streamSSE`, and runs `handler(session, c)`; the stream closes when the
 * client leaves (`c.req.raw.signal`, or Node's response closing on
 * `@hono/node-server`) or on `session.close()`. A handler
 * that throws or rejects closes its session and goes to `onError`; over the
 * `limit` the answer is `429` and the handler does not run.
 *
 * @defaultValue `options` is `{}`
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { sse } from '@sse/hono'
 *
 * const app = new Hono()
 * app.get('/rooms/:id', sse((session, c) => {
 *   session.send({ room: c.req.param('id') })
 * }))
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: Hono's own defaults for a handler's env and path.
export function sse<E extends Env = any, P extends string = any>(
  handler: StreamHandler<Context<E, P>>,
  options?: StreamOptions<Context<E, P>>,
): Handler<E, P> {
  return createStreamHandler(
    honoBinding as StreamBinding<Context<E, P>, Response>,
    handler,
    options,
  )
}
