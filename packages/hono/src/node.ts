import type { StreamBinding, StreamHandler, StreamOptions } from '@sse/core'
import { createStreamHandler } from '@sse/core'
import { type NodeRequest, type NodeResponse, nodeBinding } from '@sse/node-http'
import type { Context, Env, Handler } from 'hono'
import { honoBinding } from './index'

export type { SendOptions, Session, SessionOptions } from '@sse/core'
export type { SseOptions } from './index'

/** What `@hono/node-server` puts in `c.env`: Node's own request and response. */
interface NodeBindings {
  incoming: NodeRequest
  outgoing: NodeResponse
}

function nodeOf(c: Context): NodeBindings | undefined {
  const env = c.env as Partial<NodeBindings> | undefined
  const outgoing = env?.outgoing as { writeHead?: unknown } | undefined
  return env?.incoming !== undefined && typeof outgoing?.writeHead === 'function'
    ? (env as NodeBindings)
    : undefined
}

/**
 * On `@hono/node-server` the stream is written to Node's response itself,
 * as `@sse/node-http` writes it: no Web stream between the session and the
 * socket. The middleware's headers (`c.header()`, cors()) go on the
 * response first, ours on top, and the returned `Response` tells the server
 * it was answered already. Anywhere else, the Web binding.
 */
const nodeFirst: StreamBinding<Context, Response> = {
  ...honoBinding,
  open(c, headers, transport) {
    const node = nodeOf(c)
    if (node === undefined) return honoBinding.open(c, headers, transport)
    const out = node.outgoing
    const prepared = c.res.headers
    for (const [name, value] of prepared) if (name !== 'set-cookie') out.setHeader(name, value)
    const cookies = prepared.getSetCookie()
    if (cookies.length > 0) out.setHeader('set-cookie', cookies)
    const opened = nodeBinding.open({ req: node.incoming, res: out }, headers, transport)
    return { ...opened, result: alreadySent() }
  },
}

/** `@hono/node-server` leaves a response with this header alone. */
function alreadySent(): Response {
  return new Response(null, { headers: { 'x-hono-already-sent': 'true' } })
}

/**
 * {@link import('./index').sse} for Hono on Node (`@hono/node-server`):
 * the same handler and options, with the stream written straight to Node's
 * response (HTTP/1.1 and HTTP/2), at `@sse/node-http`'s cost per event and
 * per connection. Where `c.env` holds no Node response (Bun, Deno, Workers),
 * it answers with the Web stream, as `@sse/hono` does.
 *
 * @defaultValue `options` is `{}`
 * @example
 * ```ts
 * import { serve } from '@hono/node-server'
 * import { sse } from '@sse/hono/node'
 * import { Hono } from 'hono'
 *
 * const app = new Hono()
 * app.get('/clock', sse((session) => {
 *   session.send({ now: Date.now() })
 * }))
 * serve(app)
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: Hono's own defaults for a handler's env and path.
export function sse<E extends Env = any, P extends string = any>(
  handler: StreamHandler<Context<E, P>>,
  options?: StreamOptions<Context<E, P>>,
): Handler<E, P> {
  return createStreamHandler(nodeFirst as StreamBinding<Context<E, P>, Response>, handler, options)
}
