/**
 * The event id a hub sends: one position per shard, `<shard>:<position>`
 * joined by `,` in shard order, e.g. `0:lrx3k2.0,5:lrx3k1.2`. It says "every
 * event of these shards up to these positions has been delivered", so one id
 * resumes every topic of a connection. Its length depends on the number of
 * shards (at most 32), never on the number of topics: at most
 * 32 × (2 + 1 + 27) + 31 = 991 characters, under the 1,024 a server accepts.
 */

import { MAX_POSITION_LENGTH } from './engine'

/** Positions by shard. */
export type Cursor = Map<number, string>

const POSITION = /^[0-9A-Za-z._~-]+$/

/** Formats a cursor as an event id (shards in ascending order). */
export function formatEventId(cursor: Cursor): string {
  const shards = [...cursor.keys()].sort((a, b) => a - b)
  let id = ''
  for (const shard of shards) id += (id === '' ? '' : ',') + shard + ':' + cursor.get(shard)
  return id
}

/**
 * Parses an untrusted Last-Event-ID into a cursor, or `undefined` when it is
 * not one this hub could have sent: a shard out of range or named twice, or
 * a position the engine could not have issued. Nothing unvalidated leaves
 * this function.
 */
export function parseEventId(
  id: string,
  shards: number,
  isPosition: (position: string) => boolean,
): Cursor | undefined {
  if (id.length === 0 || id.length > 1024) return undefined
  const cursor: Cursor = new Map()
  for (const entry of id.split(',')) {
    const colon = entry.indexOf(':')
    if (colon < 1 || colon > 2) return undefined
    const digits = entry.slice(0, colon)
    if (!/^(0|[1-9]\d?)$/.test(digits)) return undefined
    const shard = Number(digits)
    const position = entry.slice(colon + 1)
    if (shard >= shards || cursor.has(shard)) return undefined
    if (position.length === 0 || position.length > MAX_POSITION_LENGTH) return undefined
    if (!POSITION.test(position) || !isPosition(position)) return undefined
    cursor.set(shard, position)
  }
  return cursor
}
