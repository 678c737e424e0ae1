/**
 * Reading one shard's history after a position, for a reconnecting client,
 * and telling whether that history is whole.
 *
 * The stream holds every shard, so a shard's sequences have holes, and the
 * stream's first sequence alone cannot say whether *this shard* lost events
 * after a position. What can, as JetStream removes messages (limits:
 * `max_msgs`, `max_bytes`, `max_age`, `max_msgs_per_subject`; purges) only
 * ever from the oldest of a subject on, so a shard's removed events are
 * always a prefix of its history:
 *
 * 1. the stream holds every message from the position on (its first
 *    sequence is at most position + 1 and it has no interior holes); or
 * 2. the shard still holds an event at or before position + 1 (then none
 *    after the position can have been removed).
 *
 * Either one: nothing after the position was removed. Neither: `expired`
 * (it may have been; a client told so gets `resync`). The check runs after
 * the events are read, so an event removed while they were read is caught.
 * A position whose epoch is not the stream's, or past its last sequence,
 * is `unknown`.
 *
 * Deleting single messages by hand (`nats stream rmm`) breaks the prefix
 * rule and is not detected.
 */

import type { ShardEvent, ShardReadResult } from '@sse/core'
import { type ConsumerSource, OrderedConsumer } from './consumer'
import { storeError } from './errors'
import { decodeEvent } from './payload'
import { formatPosition, type Position } from './positions'
import type { StreamAccess, StreamSnapshot } from './stream'

/** What a read needs from the engine, bound to its shard. */
export interface ReadSource
  extends Pick<ConsumerSource, 'clients' | 'stream' | 'subject' | 'heartbeat' | 'report'> {
  shard: number
  access: StreamAccess
  /** Milliseconds the whole read may take. */
  timeout: number
}

const UNKNOWN: ShardReadResult = { gap: true, reason: 'unknown' }
const EXPIRED: ShardReadResult = { gap: true, reason: 'expired' }

/** Whether the stream holds every message after `seq` it ever stored (rule 1). */
export function holdsAllAfter(
  state: Omit<StreamSnapshot, 'emptiesSubjects'>,
  seq: number,
): boolean {
  if (state.last === 0) return true
  return state.first <= seq + 1 && state.messages === state.last - state.first + 1
}

/**
 * Whether events of the shard on `subject` after `seq` may have been
 * removed, as the stream is now (`state`): not when nothing came after
 * `seq`, rule 1 holds, its newest event is at or before `seq`, or rule 2
 * holds; nor when it has none and the limits never empty a subject.
 * Otherwise the sequence of its oldest event kept (past `seq + 1`), or `0`
 * when it has none.
 */
export async function removedAfter(
  access: StreamAccess,
  subject: string,
  state: StreamSnapshot,
  seq: number,
): Promise<number | false> {
  if (seq >= state.last || holdsAllAfter(state, seq)) return false
  const last = await access.lastOn(subject)
  if (last === undefined) return state.emptiesSubjects ? 0 : false
  if (last <= seq) return false
  const first = await access.firstOn(subject, 1)
  if (first === undefined) return 0
  return first <= seq + 1 ? false : first
}

/** Every retained event of the shard after `from`, oldest first, or a gap; see the file comment. */
export async function readShard(source: ReadSource, from: Position): Promise<ShardReadResult> {
  const { access, subject } = source
  const before = await access.snapshot()
  if (from.epoch !== before.epoch || from.seq > before.last) return UNKNOWN
  const last = await access.lastOn(subject)
  if (last === undefined)
    return holdsAllAfter(before, from.seq) ? { gap: false, events: [] } : EXPIRED
  // The shard's newest event is at or before the position: nothing to read, nothing lost (rule 2).
  if (last <= from.seq) return { gap: false, events: [] }
  const events = await consume(source, from, last)
  const after = await access.snapshot()
  if (after.epoch !== from.epoch) return UNKNOWN
  if (holdsAllAfter(after, from.seq)) return { gap: false, events }
  const first = await access.firstOn(subject, 1)
  return first !== undefined && first <= from.seq + 1 ? { gap: false, events } : EXPIRED
}

/** The shard's events after `from`, up to its event `until` (or whatever it holds up to there). */
function consume(source: ReadSource, from: Position, until: number): Promise<ShardEvent[]> {
  const events: ShardEvent[] = []
  let cursor = from.seq
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      finish()
      reject(
        storeError(
          `read of shard ${source.shard}`,
          new Error(`not done within ${source.timeout} ms (${events.length} events read)`),
        ),
      )
    }, source.timeout)
    const finish = () => {
      clearTimeout(timer)
      consumer.stop()
    }
    const done = () => {
      finish()
      resolve(events)
    }
    const consumer = new OrderedConsumer({
      ...source,
      start: async () => cursor + 1,
      created: (info) => {
        if (info.num_pending === 0) done()
      },
      idle: done,
      message(seq, data, pending) {
        if (seq <= cursor) return
        cursor = seq
        const event = decodeEvent(data)
        if (event === undefined) {
          source.report(
            `Skipped message ${seq} of shard ${source.shard}`,
            new Error('not an event'),
          )
        } else {
          events.push({ position: formatPosition(from.epoch, seq), ...event })
        }
        if (seq >= until || pending === 0) done()
      },
    })
  })
}
