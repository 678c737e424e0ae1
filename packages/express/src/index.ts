import type { ServerResponse } from 'node:http'
import {
  createStreamHandler,
  type StreamBinding,
  type StreamHandler,
  type StreamOptions,
} from '@sse/core'
import { nodeBinding } from '@sse/node-http'
import type { NextFunction, Request, RequestHandler, Response } from 'express'

export type { SendOptions, Session, SessionOptions } from '@sse/core'

/** What an Express stream handler gets besides its session. */
export interface ExpressContext<P = Request['params']> {
  req: Request<P>
  res: Response
}

/**
 * Options for {@link sse}: the session options (`retry`, `heartbeat`,
 * `maxQueueBytes`…), extra `headers`, a connection `limit` and `onError`.
 *
 * @defaultValue `{}`: a 15 s heartbeat, a 2 s retry hint, errors to `next(error)`
 * @example
 * ```ts
 * const options: SseOptions = { heartbeat: 30_000, onError: (error) => reportError(error) }
 * ```
 */
export type SseOptions<P = Request['params']> = StreamOptions<ExpressContext<P>>

const binding: StreamBinding<ExpressContext, void> = {
  ...(nodeBinding as unknown as StreamBinding<ExpressContext, void>),
  // Express's error handling: it logs, and ends the (already open) response.
  reportError: (error, _session, { req }) => (req.next as NextFunction)(error),
}

/**
 * Creates an Express request handler that opens an event stream, keeping
 * headers set by earlier middleware (`cors()`, `res.set()`), and runs
 * `handler(session, { req, res })`. A handler that throws or rejects closes
 * its session and goes to `onError`, else to `next(error)`; over the
 * `limit` the answer is `429` and the handler does not run.
 *
 * @defaultValue `options` is `{}`
 * @example
 * ```ts
 * import express from 'express'
 * import { sse } from '@sse/express'
 *
 * const app = express()
 * app.get('/rooms/:id', sse<{ id: string }>((session, { req }) => {
 *   session.send({ room: req.params.id })
 * }))
 * ```
 */
export function sse<P = Request['params']>(
  handler: StreamHandler<ExpressContext<P>>,
  options?: SseOptions<P>,
): RequestHandler<P> {
  const serve = createStreamHandler(
    binding as unknown as StreamBinding<ExpressContext<P>, void>,
    handler,
    options,
  )
  return (req, res) => serve({ req: req as Request<P>, res: res as Response & ServerResponse })
}
