/**
 * Reply parsing, for RESP2 and RESP3 alike (ioredis 6 speaks RESP3 by
 * default, where maps may arrive as objects or as flat arrays depending on
 * `replyMapping`).
 */

import { storeError } from './errors'
import { PAYLOAD_FIELD } from './payload'

/** A `[error, value]` pair from a MULTI or pipeline reply. */
export type Result = [Error | null, unknown]

/** What `XINFO STREAM` says about a stream (the fields the gap rules need). */
export interface StreamInfo {
  length: number
  lastId: string
  firstId: string | undefined
  maxDeletedId: string | undefined
  entriesAdded: number | undefined
}

/** The value of one MULTI/pipeline result, or throws it as `SSE_STORE` naming `what`. */
export function resultValue(result: Result | undefined, what: string): unknown {
  if (result === undefined) throw storeError(what, new Error('transaction aborted'))
  if (result[0] !== null) throw storeError(what, result[0])
  return result[1]
}

/** `XINFO STREAM` from a MULTI result; undefined when the stream does not exist. */
export function streamInfo(result: Result | undefined): StreamInfo | undefined {
  if (result?.[0] != null && /no such key/i.test(result[0].message)) return undefined
  const raw = resultValue(result, 'XINFO')
  const fields = new Map<string, unknown>()
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) fields.set(String(raw[i]), raw[i + 1])
  } else if (raw !== null && typeof raw === 'object') {
    for (const [key, value] of Object.entries(raw)) fields.set(key, value)
  }
  const first = fields.get('first-entry')
  const entriesAdded = fields.get('entries-added')
  const maxDeleted = fields.get('max-deleted-entry-id')
  return {
    length: Number(fields.get('length')),
    lastId: String(fields.get('last-generated-id') ?? '0-0'),
    firstId: Array.isArray(first) && first.length > 0 ? String(first[0]) : undefined,
    maxDeletedId: typeof maxDeleted === 'string' ? maxDeleted : undefined,
    entriesAdded: entriesAdded === undefined ? undefined : Number(entriesAdded),
  }
}

/** A stream entry: its id and its payload (undefined when it has none). */
export interface Entry {
  id: string
  payload: string | undefined
}

/** Stream entries, `[[id, [field, value, …]], …]`. */
export function entriesOf(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) return []
  const entries: Entry[] = []
  for (const entry of reply) {
    if (!Array.isArray(entry)) continue
    const [id, fields] = entry as [unknown, unknown]
    let payload: string | undefined
    if (Array.isArray(fields)) {
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (String(fields[i]) === PAYLOAD_FIELD) payload = String(fields[i + 1])
      }
    } else if (fields !== null && typeof fields === 'object') {
      const value = (fields as Record<string, unknown>)[PAYLOAD_FIELD]
      if (value !== undefined) payload = String(value)
    }
    entries.push({ id: String(id), payload })
  }
  return entries
}
