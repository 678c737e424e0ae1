// Pure helpers for the reconnection schedule, kept apart so tests can check
// them without a network.

// 2^30 times any delay is already past every sensible cap; stopping the
// exponent there keeps the product finite (0 * Infinity would be NaN).
const MAX_EXPONENT = 30

/**
 * The wait before the next attempt: full jitter over a window that starts at
 * the reconnection time and doubles with every consecutive failure, capped by
 * `maxRetry` (AWS's "full jitter" backoff, so that clients dropped together
 * do not come back together).
 */
export function backoffDelay(
  retry: number,
  maxRetry: number,
  failures: number,
  random: () => number = Math.random,
): number {
  // A server asking for `retry: 0` still gets a growing window when it keeps failing.
  const window = Math.min(maxRetry, Math.max(retry, 1) * 2 ** Math.min(failures, MAX_EXPONENT))
  return Math.floor(random() * window)
}

/**
 * `Retry-After` in milliseconds from now: delay-seconds or an HTTP date;
 * `undefined` when absent or unreadable.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
 */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  // Every HTTP-date form starts with a day name; Date.parse alone would also
  // take things like "-5" as a year.
  if (!/^[A-Za-z]/.test(trimmed)) return undefined
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}
