/**
 * Every failure leaves this package as an `SseError` with code `SSE_STORE`
 * and the NATS error as `cause`: rejected to the caller when there is one,
 * handed to `onError` when it happened in the background.
 */

import { SseError } from '@sse/core'

/** `SSE_STORE` for a failed operation; an `SseError` passes through unchanged. */
export function storeError(operation: string, cause: unknown): SseError {
  if (cause instanceof SseError) return cause
  return new SseError('SSE_STORE', `NATS ${operation} failed: ${messageOf(cause)}`, { cause })
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause)
}

/** Reports a background problem (`what` happened because of `cause`). */
export type Report = (what: string, cause: unknown) => void

/**
 * A {@link Report} that hands `onError` an `SSE_STORE` error while the
 * engine is open. An `onError` that throws is the caller's bug: it surfaces
 * as an uncaught exception, as a throwing event listener would, and leaves
 * the engine's state alone.
 */
export function reporter(
  onError: ((error: SseError) => void) | undefined,
  isOpen: () => boolean,
): Report {
  if (onError === undefined) return () => undefined
  return (what, cause) => {
    if (!isOpen()) return
    const error = new SseError('SSE_STORE', `${what}: ${messageOf(cause)}`, { cause })
    try {
      onError(error)
    } catch (thrown) {
      queueMicrotask(() => {
        throw thrown
      })
    }
  }
}
