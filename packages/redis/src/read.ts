/**
 * History reads: every entry of a shard's stream after a stream id, in pages,
 * or a gap when that id cannot be resumed from.
 *
 * Each page is `XINFO STREAM` + `XRANGE` in one MULTI, so the rules below
 * see the stream as it was when the page was read. A read ends at the
 * stream's last id as of its first page: what is appended later reaches a
 * follower live, and a replay hands over to live delivery at the hub's
 * cursor. So a read is bounded by retention (`maxLen`, `maxAge`).
 *
 * Gap rules (`from` is a canonical stream id; anything else never gets here):
 * - the stream does not exist: `0-0` resumes (nothing yet), else `unknown`;
 * - `from` is newer than the stream's last generated id: `unknown` (another
 *   deployment, a Redis that lost data, a forged id);
 * - an entry newer than `from` was deleted (`max-deleted-entry-id`): `expired`;
 * - `from` is older than every retained entry: resumable only when it is the
 *   origin of a stream that never lost an entry (Redis 7 counts entries
 *   added), the last id of a stream emptied since, or the id just before the
 *   first retained one (nothing can lie between them); otherwise `expired`
 *   (trimming may have taken events after it), or `unknown` when nothing was
 *   ever trimmed (so it was never issued);
 * - within the retained range, `from` must be an entry (or the one deleted
 *   last), else `unknown`: never issued;
 * - trimming overtook a read between two pages: `expired`.
 */

import type { CommandRunner } from './commands'
import { compareIds, previousId } from './positions'
import {
  type Entry,
  entriesOf,
  type Result,
  resultValue,
  type StreamInfo,
  streamInfo,
} from './replies'

/** How a read ended. */
export type ReadOutcome =
  | { gap: false }
  | {
      gap: true
      reason: 'expired' | 'unknown'
      /** The stream's last generated id (`0-0` for none). */
      lastId: string
      /**
       * When every entry the stream retains is newer than the read's position
       * (trimmed past it, say): the id just before the first of them, a
       * position a read resumes from to get them all. Otherwise undefined.
       */
      resumeFrom: string | undefined
    }

/** Entries per `XRANGE`. */
export const PAGE_SIZE = 1000

/**
 * Calls `onPage` with every entry of `stream` after `from`, oldest first, a
 * page at a time, and resolves with how the read ended.
 */
export async function readAfter(
  runner: CommandRunner,
  stream: string,
  from: string,
  onPage: (entries: Entry[]) => void,
): Promise<ReadOutcome> {
  const [info, first] = await page(runner, stream, from, '+', PAGE_SIZE + 1)
  const verdict = firstPage(from, info, first)
  if (verdict !== undefined) return gap(verdict, info, from)
  if (first[0]?.id === from) first.shift()
  const end = info?.lastId ?? '0-0'
  let last = first.at(-1)?.id
  if (first.length > 0) onPage(first)
  while (last !== undefined && compareIds(last, end) < 0) {
    const [now, entries] = await page(runner, stream, `(${last}`, end, PAGE_SIZE)
    // The entries after `last` may have been trimmed before this page was read.
    if (
      now?.firstId === undefined ||
      (compareIds(now.firstId, last) > 0 && previousId(now.firstId) !== last)
    ) {
      return gap('expired', now, last)
    }
    if (entries.length === 0) break
    onPage(entries)
    last = entries.at(-1)!.id
  }
  return { gap: false }
}

async function page(
  runner: CommandRunner,
  stream: string,
  start: string,
  end: string,
  count: number,
): Promise<[StreamInfo | undefined, Entry[]]> {
  const replies = (await runner.run('XRANGE', (client) =>
    client
      .multi()
      .call('XINFO', 'STREAM', stream)
      .call('XRANGE', stream, start, end, 'COUNT', count)
      .exec(),
  )) as Result[] | null
  return [streamInfo(replies?.[0]), entriesOf(resultValue(replies?.[1], 'XRANGE'))]
}

/** The gap reason for resuming after `from`, judged on the first page; undefined to resume. */
function firstPage(
  from: string,
  info: StreamInfo | undefined,
  entries: Entry[],
): 'expired' | 'unknown' | undefined {
  const origin = from === '0-0'
  if (info === undefined) return origin ? undefined : 'unknown'
  if (compareIds(from, info.lastId) > 0) return 'unknown'
  if (info.maxDeletedId !== undefined && compareIds(info.maxDeletedId, from) > 0) return 'expired'
  // Redis 7 counts every entry ever added: equal to the length, nothing was removed.
  const neverTrimmed = info.entriesAdded !== undefined && info.entriesAdded === info.length
  if (info.firstId === undefined || compareIds(from, info.firstId) < 0) {
    if (origin && neverTrimmed) return undefined
    if (info.firstId === undefined && from === info.lastId) return undefined
    if (info.firstId !== undefined && previousId(info.firstId) === from) return undefined
    return neverTrimmed ? 'unknown' : 'expired'
  }
  if (entries[0]?.id === from || info.maxDeletedId === from) return undefined
  return 'unknown'
}

/** A gap in reading after `after`. */
function gap(
  reason: 'expired' | 'unknown',
  info: StreamInfo | undefined,
  after: string,
): ReadOutcome {
  const first = info?.firstId
  const resumeFrom =
    first !== undefined && compareIds(after, first) < 0 ? previousId(first) : undefined
  return { gap: true, reason, lastId: info?.lastId ?? '0-0', resumeFrom }
}
