import { createSession, type NodeSessionOptions, type Session } from '@sse/node-http'
import type { Request, RequestHandler, Response } from 'express'

export type { SendOptions, Session, SessionOptions } from '@sse/core'

/**
 * Options for {@link sse}: the session options (`retry`, `heartbeat`,
 * `maxQueueBytes`…), the response `status` and extra `headers`, and `onError`
 * for a handler that fails once the stream is open.
 *
 * @defaultValue `{}`: status 200, a 15 s heartbeat, a 2 s retry hint, errors to `next(error)`
 * @example
 * ```ts
 * const options: SseOptions = { heartbeat: 30_000, onError: (error) => reportError(error) }
 * ```
 */
export interface SseOptions extends NodeSessionOptions {
  /**
   * Called with what the handler threw or rejected with once the stream is
   * open (the session is already closed, so no error response is possible).
   *
   * @defaultValue `next(error)`: Express's error handling, which logs it
   */
  onError?: (error: unknown, req: Request, res: Response) => void
}

/**
 * Creates an Express request handler that opens an event stream, keeping
 * headers set by earlier middleware (`cors()`, `res.set()`), and gives
 * `handler` its session; a failure before the stream opens goes to
 * `next(error)`, one after it closes the session and goes to `onError`.
 *
 * @defaultValue `options` is `{}`
 * @example
 * ```ts
 * import express from 'express'
 * import { sse } from '@sse/express'
 *
 * const app = express()
 * app.get('/rooms/:id', sse<{ id: string }>((session, req) => {
 *   session.send({ room: req.params.id })
 * }))
 * ```
 */
export function sse<P = Request['params']>(
  handler: (session: Session, req: Request<P>, res: Response) => unknown,
  options: SseOptions = {},
): RequestHandler<P> {
  const { onError, ...sessionOptions } = options
  return (req, res, next) => {
    let session: Session | undefined
    const fail = (error: unknown): void => {
      session?.close()
      // Before the head is sent Express can still answer with an error status.
      if (onError === undefined || !res.headersSent) next(error)
      else onError(error, req as Request, res)
    }
    try {
      session = createSession(req, res, sessionOptions)
      const result = handler(session, req, res)
      // `.catch(next)`: an `onError` that throws must not become an unhandled rejection.
      if (isThenable(result)) Promise.resolve(result).catch(fail).catch(next)
    } catch (error) {
      fail(error)
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}
