import { createResponse, type ResponseOptions, type Session } from '@sse/core'
import type { Context } from 'hono'

export type { SendOptions, Session, SessionOptions } from '@sse/core'

/**
 * Options for {@link sse}: the session options (`retry`, `heartbeat`,
 * `maxQueueBytes`…) plus the response `status`, extra `headers`, the body's
 * `highWaterMark` and `onError` for a handler that throws or rejects (the
 * stream ends; without `onError` a throw becomes Hono's error response).
 *
 * @defaultValue `{}`: status 200, a 15 s heartbeat, a 2 s retry hint
 * @example
 * ```ts
 * const options: SseOptions = { heartbeat: 30_000, onError: (error) => reportError(error) }
 * ```
 */
export type SseOptions = ResponseOptions

/**
 * Answers a Hono request with an event stream, like `streamSSE(c, cb)`, and
 * gives `handler` its session; the stream closes when the client leaves
 * (`c.req.raw.signal`) or on `session.close()`.
 *
 * @defaultValue `options` is `{}`
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { sse } from '@sse/hono'
 *
 * const app = new Hono()
 * app.get('/rooms/:id', (c) =>
 *   sse(c, (session) => {
 *     session.send({ room: c.req.param('id') })
 *   }),
 * )
 * ```
 */
export function sse(
  c: Context,
  handler: (session: Session) => unknown,
  options: SseOptions = {},
): Response {
  const response = createResponse(c.req.raw, handler, options)
  // Hono copies the headers prepared on the context (`c.header()`, cors())
  // over a returned Response, and drops them if `c.res` was never read. Read
  // it, and put our headers there so the event-stream ones win.
  const prepared = c.res.headers
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') prepared.append(name, value)
    else prepared.set(name, value)
  }
  return response
}
