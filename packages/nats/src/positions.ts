/**
 * Positions: where an event sits in the JetStream stream, in the compact
 * form a hub puts in its event ids.
 *
 * A position is `<epoch>.<sequence>`, both in base 36, lowercase:
 *
 * - `sequence` is the event's stream sequence. One stream holds every
 *   shard, so sequences grow across all of them: within a shard they order
 *   exactly, across shards they order by the time the stream stored them.
 *   A shard's sequences have holes (the other shards' events), so a
 *   position says "everything of this shard up to this sequence", and a
 *   sequence that is not one of the shard's events is a valid position too
 *   (a follower starts at the stream's last sequence, whatever its shard).
 * - `epoch` is the stream's creation time in microseconds. A stream deleted
 *   and created again (or another deployment's stream of the same name)
 *   starts its sequences again at 1: its epoch tells its positions apart,
 *   so an old id is `unknown` instead of silently naming another event.
 *
 * Both parts stay below 2^53 (JetStream sequences are 64-bit, but no stream
 * gets near 2^53 events), so `2gosa7pa2gv.2gosa7pa2gv` (23 characters) is
 * the longest, under core's 27. Only the canonical form is a position (no
 * leading zeros, no uppercase): one event has exactly one position, and a
 * forged Last-Event-ID is refused here before anything reaches NATS.
 */

/** A parsed position. */
export interface Position {
  /** The stream's creation time, µs since 1970. */
  epoch: number
  /** A stream sequence (0: before the first event). */
  seq: number
}

const PART = /^(?:0|[1-9a-z][0-9a-z]{0,10})$/

function part(text: string): number | undefined {
  if (!PART.test(text)) return undefined
  const value = Number.parseInt(text, 36)
  return Number.isSafeInteger(value) ? value : undefined
}

/** Parses a canonical position; undefined for anything else. */
export function parsePosition(position: string): Position | undefined {
  const dot = position.indexOf('.')
  if (dot < 1 || position.length > 23) return undefined
  const epoch = part(position.slice(0, dot))
  const seq = part(position.slice(dot + 1))
  if (epoch === undefined || epoch === 0 || seq === undefined) return undefined
  return { epoch, seq }
}

/** Whether `position` is one this engine could issue (its shape only). */
export function isPosition(position: string): boolean {
  return parsePosition(position) !== undefined
}

/** The position of `seq` in the stream created at `epoch`. */
export function formatPosition(epoch: number, seq: number): string {
  return epoch.toString(36) + '.' + seq.toString(36)
}

/**
 * Orders two valid positions: by epoch (a newer stream after an older
 * one), then by sequence.
 */
export function comparePositions(a: string, b: string): number {
  const x = parsePosition(a)!
  const y = parsePosition(b)!
  return x.epoch !== y.epoch ? x.epoch - y.epoch : x.seq - y.seq
}

const CREATED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/

/**
 * The epoch of a stream from its `created` time as JetStream reports it
 * (RFC 3339 with up to nanoseconds, e.g. `2026-12-02T17:50:51.031899144Z`):
 * microseconds, which `Date` cannot hold.
 */
export function epochOf(created: string): number {
  const match = CREATED.exec(created)
  // Whole seconds, in milliseconds; the fraction is added in microseconds.
  const ms = match === null ? Number.NaN : Date.parse(match[1]! + match[3]!)
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new TypeError(`Not a stream creation time: ${JSON.stringify(created)}`)
  }
  const micros = Number((match![2] ?? '').padEnd(6, '0').slice(0, 6))
  return ms * 1000 + micros
}
