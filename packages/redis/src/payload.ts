/**
 * How an event is written to Redis, and read back.
 *
 * The payload is a JSON array built here, `[topics, data]`,
 * `[topics, data, event]`, or with a conflation key
 * `[topics, data, event | null, key]`: JSON escapes whatever the data holds (line
 * breaks, quotes, text that looks like JSON or like our own framing), so it
 * parses back to exactly what was published. The stream entry stores it in
 * its one field `e`; the live message is `<prev> <id> <payload>`, where
 * `prev` and `id` are stream ids (digits and one `-`, never a space), so
 * the first two spaces split it unambiguously. History and live messages
 * parse with the same function.
 */

import type { EngineEvent } from '@sse/core'
import { isStreamId } from './positions'

/** The stream entry's field holding the payload. */
export const PAYLOAD_FIELD = 'e'

/** Serializes an event for the log. */
export function encodePayload(event: EngineEvent): string {
  if (event.key !== undefined) {
    return JSON.stringify([event.topics, event.data, event.event ?? null, event.key])
  }
  return JSON.stringify(
    event.event === undefined
      ? [event.topics, event.data]
      : [event.topics, event.data, event.event],
  )
}

/** Parses a payload; undefined when it is not one {@link encodePayload} could write. */
export function parsePayload(payload: string): EngineEvent | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(payload)
  } catch {
    return undefined
  }
  if (!Array.isArray(parsed) || parsed.length < 2 || parsed.length > 4) return undefined
  const [topics, data, event, key] = parsed as [unknown, unknown, unknown, unknown]
  if (!Array.isArray(topics) || topics.length === 0) return undefined
  if (!topics.every((topic) => typeof topic === 'string')) return undefined
  if (typeof data !== 'string') return undefined
  if (parsed.length === 3 && typeof event !== 'string') return undefined
  if (parsed.length === 4) {
    if (typeof key !== 'string' || !(event === null || typeof event === 'string')) return undefined
    return { topics: topics as string[], data, event: event ?? undefined, key }
  }
  return { topics: topics as string[], data, event: event as string | undefined }
}

/** A live message: the stream id before the event, the event's id, and its payload. */
export interface ShardMessage {
  prev: string
  id: string
  payload: string
}

/** Splits a live message; undefined when it is malformed. */
export function parseMessage(message: string): ShardMessage | undefined {
  const first = message.indexOf(' ')
  const second = first === -1 ? -1 : message.indexOf(' ', first + 1)
  if (second === -1) return undefined
  const prev = message.slice(0, first)
  const id = message.slice(first + 1, second)
  if (!isStreamId(prev) || !isStreamId(id)) return undefined
  return { prev, id, payload: message.slice(second + 1) }
}
