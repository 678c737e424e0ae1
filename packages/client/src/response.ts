// Response classification: what the processing model does with a response,
// as a pure function of its status and headers (no I/O, no state), so each
// rule is tested on its own and the reconnect loop only acts on the verdict.
import { SseError } from '@sse/core'
import { parseRetryAfter } from './retry'

/** What to do with a response. */
export type Verdict =
  /** A 200 `text/event-stream`: announce the connection, read the body. */
  | { kind: 'stream' }
  /** 204: the server's "do not reconnect". Reported, but not a failure. */
  | { kind: 'done'; error: SseError }
  /** Fail the connection for good (iterators throw `error`). */
  | { kind: 'fail'; error: SseError }
  /** Our departure from the spec: reconnect, waiting at least `retryAfter` ms. */
  | { kind: 'retry'; error: SseError; retryAfter: number | undefined }
  /** 401 or 403: fail, unless `onUnauthorized` says to try again. */
  | { kind: 'unauthorized'; error: SseError }

/**
 * The spec's rules for a response, plus ours for 408, 429 and 5xx.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#sse-processing-model
 */
export function classifyResponse(
  href: string,
  response: Pick<Response, 'status' | 'statusText' | 'headers'>,
  retryServerErrors: boolean,
): Verdict {
  const { status } = response
  if (status === 204) {
    return {
      kind: 'done',
      error: responseError(`${href} answered 204 No Content: not reconnecting`, status),
    }
  }
  // "If res's status is not 200, … fail the connection": other 2xx (205,
  // 210, 299) included. They are not event streams, and retrying them would loop.
  if (status !== 200) {
    const error = responseError(
      `${href} answered ${status}${response.statusText ? ` ${response.statusText}` : ''}`,
      status,
    )
    if (retryServerErrors && (status === 408 || status === 429 || status >= 500)) {
      return {
        kind: 'retry',
        error,
        retryAfter: parseRetryAfter(response.headers.get('retry-after')),
      }
    }
    if (status === 401 || status === 403) return { kind: 'unauthorized', error }
    return { kind: 'fail', error }
  }
  // "… or if res's `Content-Type` is not `text/event-stream`, fail the connection."
  const contentType = response.headers.get('content-type')
  if (!isEventStream(contentType)) {
    return {
      kind: 'fail',
      error: responseError(
        `${href} answered with Content-Type ${contentType ?? '(none)'}, not text/event-stream`,
        status,
      ),
    }
  }
  return { kind: 'stream' }
}

function isEventStream(contentType: string | null): boolean {
  if (contentType === null) return false
  const semicolon = contentType.indexOf(';')
  const essence = semicolon === -1 ? contentType : contentType.slice(0, semicolon)
  return essence.trim().toLowerCase() === 'text/event-stream'
}

export function responseError(
  message: string,
  status: number | undefined,
  cause?: unknown,
): SseError {
  return new SseError('SSE_INVALID_RESPONSE', message, { cause, status })
}

export function connectionError(
  message: string,
  status: number | undefined,
  cause?: unknown,
): SseError {
  return new SseError('SSE_CONNECTION', message, { cause, status })
}
