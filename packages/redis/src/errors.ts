/**
 * Errors: every failure leaves this package as an `SseError` with code
 * `SSE_STORE` and the original error as `cause`; rejected to the caller when
 * there is one, given to `onError` when it happened in the background.
 */

import { SseError } from '@sse/core'

/** Wraps `cause` as an `SSE_STORE` error saying what failed (an `SseError` passes through). */
export function storeError(what: string, cause: unknown): SseError {
  if (cause instanceof SseError) return cause
  return new SseError('SSE_STORE', `Redis ${what} failed: ${describe(cause)}`, { cause })
}

/** The message of an error, or the value as text. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Reports a background failure: `report(message, cause)`. */
export type Report = (message: string, cause: unknown) => void

/**
 * A {@link Report} that calls `onError` (if any) while `open()` holds. A
 * throwing `onError` is the caller's bug: it surfaces as an uncaught
 * exception, as a throwing event listener would, without breaking the
 * engine's state.
 */
export function createReport(
  onError: ((error: SseError) => void) | undefined,
  open: () => boolean,
): Report {
  return (message, cause) => {
    if (onError === undefined || !open()) return
    const error = new SseError('SSE_STORE', `${message}: ${describe(cause)}`, { cause })
    try {
      onError(error)
    } catch (thrown) {
      queueMicrotask(() => {
        throw thrown
      })
    }
  }
}
