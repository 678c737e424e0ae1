// Redis stream ids are `<ms>-<seq>`, both unsigned 64-bit integers. They can
// exceed Number.MAX_SAFE_INTEGER, so they are compared as decimal strings
// (shorter is smaller; equal lengths compare lexically) and never parsed
// into numbers.

const STREAM_ID = /^(0|[1-9]\d{0,19})-(0|[1-9]\d{0,19})$/
const U64_MAX = '18446744073709551615'

/** The longest id Redis can issue: two 20-digit numbers and a dash. */
const MAX_STREAM_ID_LENGTH = 41

/**
 * Whether `id` is a stream id Redis could have issued: the canonical form
 * only (no leading zeros, no `*`, no ms-only ids), each part within 64 bits.
 * Anything else is refused before it reaches a Redis command.
 */
export function isStreamId(id: string): boolean {
  if (id.length > MAX_STREAM_ID_LENGTH) return false
  const match = STREAM_ID.exec(id)
  if (match === null) return false
  return fitsU64(match[1]!) && fitsU64(match[2]!)
}

function fitsU64(digits: string): boolean {
  return digits.length < U64_MAX.length || digits <= U64_MAX
}

/** Orders two canonical stream ids: negative, zero or positive. */
export function compareIds(a: string, b: string): number {
  const dashA = a.indexOf('-')
  const dashB = b.indexOf('-')
  const ms = compareDecimal(a.slice(0, dashA), b.slice(0, dashB))
  return ms !== 0 ? ms : compareDecimal(a.slice(dashA + 1), b.slice(dashB + 1))
}

function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}

/** The greatest id that sorts before `id` (`0-0` has none and maps to itself). */
export function previousId(id: string): string {
  const dash = id.indexOf('-')
  const ms = BigInt(id.slice(0, dash))
  const seq = BigInt(id.slice(dash + 1))
  if (seq > 0n) return `${ms}-${seq - 1n}`
  if (ms > 0n) return `${ms - 1n}-${U64_MAX}`
  return '0-0'
}
