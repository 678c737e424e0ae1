/**
 * Positions: the Redis stream entry id of an event, in the compact form a
 * hub puts in its event ids.
 *
 * A stream id is `<ms>-<seq>`, two unsigned 64-bit decimal numbers (up to 41
 * characters). A position is the same two numbers in base 36, lowercase,
 * joined by `.`: `1700000000000-5` is `lox2ajb4.5`. The largest possible one,
 * `3w5e11264sgsf.3w5e11264sgsf`, is 27 characters, the most core allows
 * (`MAX_POSITION_LENGTH`), so an id over 32 shards stays under 1,024.
 *
 * Only the canonical form is a position (no leading zeros, no uppercase,
 * each part within 64 bits): one stream id has exactly one position, and a
 * forged Last-Event-ID is refused here before it can reach Redis.
 *
 * The numbers can exceed `Number.MAX_SAFE_INTEGER`, so they are compared as
 * digit strings (a shorter one is smaller; equal lengths compare lexically,
 * which orders `0-9a-z` correctly) and converted with BigInt past 2^53.
 */

const POSITION = /^(0|[1-9a-z][0-9a-z]{0,12})\.(0|[1-9a-z][0-9a-z]{0,12})$/
const STREAM_ID = /^(0|[1-9]\d{0,19})-(0|[1-9]\d{0,19})$/
const U64_MAX_36 = '3w5e11264sgsf'
const U64_MAX_10 = '18446744073709551615'
// Below these lengths a part fits in a double exactly (36^10 < 10^16 < 2^53 · 2).
const SAFE_DIGITS_36 = 10
const SAFE_DIGITS_10 = 15

/** The position of the empty log (stream id `0-0`): where a shard nothing was appended to starts. */
export const ORIGIN = '0.0'

/** Whether `position` is the canonical position of a stream id Redis could issue. */
export function isPosition(position: string): boolean {
  if (position.length > 27) return false
  const match = POSITION.exec(position)
  return match !== null && fits(match[1]!, U64_MAX_36) && fits(match[2]!, U64_MAX_36)
}

/** Whether `id` is a canonical Redis stream id (`<ms>-<seq>`, each within 64 bits). */
export function isStreamId(id: string): boolean {
  if (id.length > 41) return false
  const match = STREAM_ID.exec(id)
  return match !== null && fits(match[1]!, U64_MAX_10) && fits(match[2]!, U64_MAX_10)
}

function fits(digits: string, max: string): boolean {
  return digits.length < max.length || digits <= max
}

/** The position of a canonical stream id. */
export function toPosition(id: string): string {
  const dash = id.indexOf('-')
  return base36(id.slice(0, dash)) + '.' + base36(id.slice(dash + 1))
}

/** The stream id of a valid position (check it with {@link isPosition} first). */
export function toStreamId(position: string): string {
  const dot = position.indexOf('.')
  return decimal(position.slice(0, dot)) + '-' + decimal(position.slice(dot + 1))
}

function base36(digits: string): string {
  return digits.length <= SAFE_DIGITS_10 ? Number(digits).toString(36) : BigInt(digits).toString(36)
}

function decimal(digits: string): string {
  if (digits.length <= SAFE_DIGITS_36) return String(Number.parseInt(digits, 36))
  let value = 0n
  for (const digit of digits) value = value * 36n + BigInt(Number.parseInt(digit, 36))
  return value.toString()
}

/**
 * The stream id just before `id` (a canonical id other than `0-0`): no id
 * lies between the two, so a read after it starts at `id`.
 */
export function previousId(id: string): string {
  const dash = id.indexOf('-')
  const ms = id.slice(0, dash)
  const seq = id.slice(dash + 1)
  if (seq !== '0') return ms + '-' + (BigInt(seq) - 1n).toString()
  return (BigInt(ms) - 1n).toString() + '-' + U64_MAX_10
}

/** Orders two valid positions exactly: by milliseconds, then sequence. */
export function comparePositions(a: string, b: string): number {
  const dotA = a.indexOf('.')
  const dotB = b.indexOf('.')
  const ms = compareDigits(a.slice(0, dotA), b.slice(0, dotB))
  return ms !== 0 ? ms : compareDigits(a.slice(dotA + 1), b.slice(dotB + 1))
}

/** Orders two canonical stream ids exactly. */
export function compareIds(a: string, b: string): number {
  const dashA = a.indexOf('-')
  const dashB = b.indexOf('-')
  const ms = compareDigits(a.slice(0, dashA), b.slice(0, dashB))
  return ms !== 0 ? ms : compareDigits(a.slice(dashA + 1), b.slice(dashB + 1))
}

// Canonical digit strings (no leading zeros) of one base.
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}
