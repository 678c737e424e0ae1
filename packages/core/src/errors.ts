/**
 * Stable machine-readable codes carried by every {@link SseError}.
 *
 * - `SSE_INVALID_FIELD`: an `event`, `id` or `retry` value that cannot be
 *   written without changing the meaning of the stream (a line break or NUL in
 *   `event`/`id`, a `retry` that is not a non-negative integer).
 * - `SSE_MAX_SIZE_EXCEEDED`: the parser dropped an event or line larger than
 *   its `maxEventSize`.
 * - `SSE_STORE`: an engine (the event log behind a hub) failed to append, read
 *   or follow.
 * - `SSE_INVALID_RESPONSE`: a client received a response that is not an event
 *   stream (a 4xx, a 204, the wrong `Content-Type`); `status` tells which.
 * - `SSE_CONNECTION`: a client could not connect, or the stream broke or ended;
 *   the network error, if any, is in `cause`.
 * - `SSE_TIMEOUT`: {@link readEvents} did not see what it waited for in time.
 * - `SSE_INVALID_DATA`: data with no text form (the serializer threw, e.g.
 *   on a BigInt or a cycle, or returned something other than a string);
 *   the serializer's error is in `cause`.
 * - `SSE_INVALID_EVENT`: a client received an event whose data does not
 *   parse as JSON or fails its schema (typed events); the event is dropped,
 *   the stream goes on; the parse or validation issues are in `cause`.
 */
export type SseErrorCode =
  | 'SSE_INVALID_FIELD'
  | 'SSE_MAX_SIZE_EXCEEDED'
  | 'SSE_STORE'
  | 'SSE_INVALID_RESPONSE'
  | 'SSE_CONNECTION'
  | 'SSE_TIMEOUT'
  | 'SSE_INVALID_DATA'
  | 'SSE_INVALID_EVENT'

// A registered symbol, so that two copies of @sse/core in one process (a
// dual-package install, or two versions) still recognise each other's errors.
const kSseError = Symbol.for('@sse/core.SseError')

/**
 * The one error class of `@sse`: a stable {@link SseErrorCode} in `code`,
 * the underlying error (if any) in `cause`.
 *
 * `instanceof SseError` also holds for errors created by another copy of the
 * package, so checks keep working in a dual CJS/ESM install.
 *
 * @example
 * ```ts
 * try {
 *   encode({ event: userInput, data })
 * } catch (err) {
 *   if (err instanceof SseError && err.code === 'SSE_INVALID_FIELD') reject(err.field)
 * }
 * ```
 */
export class SseError extends Error {
  /** The stable error code; match on this, not on `message`. */
  readonly code: SseErrorCode
  /** For `SSE_INVALID_FIELD`: which field was rejected. */
  readonly field: 'event' | 'id' | 'retry' | undefined
  /** For client errors: the HTTP status of the response that caused it, if one arrived. */
  readonly status: number | undefined

  constructor(
    code: SseErrorCode,
    message: string,
    options?: { cause?: unknown; field?: 'event' | 'id' | 'retry'; status?: number | undefined },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SseError'
    this.code = code
    this.field = options?.field
    this.status = options?.status
    Object.defineProperty(this, kSseError, { value: true })
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && kSseError in value
  }
}
