/**
 * The body of a stream message: one JSON object, `{"t":[topics],"d":data}`
 * plus `"e":type` for a named event and `"k":key` for a conflation key. JSON escapes whatever the data holds
 * (line breaks, quotes, text that looks like our own framing), so it parses
 * back to exactly what was published, and `nats stream view` shows it
 * readably. Topics live here, not in the subject (see subjects.ts).
 */

import type { EngineEvent } from '@sse/core'

const utf8 = /* @__PURE__ */ new TextEncoder()
const text = /* @__PURE__ */ new TextDecoder()

/** Serializes an event for the stream. */
export function encodeEvent(event: EngineEvent): Uint8Array {
  const body: { t: readonly string[]; d: string; e?: string; k?: string } = {
    t: event.topics,
    d: event.data,
  }
  if (event.event !== undefined) body.e = event.event
  if (event.key !== undefined) body.k = event.key
  return utf8.encode(JSON.stringify(body))
}

/** Parses a message body; undefined when {@link encodeEvent} could not have written it. */
export function decodeEvent(bytes: Uint8Array): EngineEvent | undefined {
  let body: unknown
  try {
    body = JSON.parse(text.decode(bytes))
  } catch {
    return undefined
  }
  if (typeof body !== 'object' || body === null) return undefined
  const { t: topics, d: data, e: event, k: key } = body as Record<string, unknown>
  const valid =
    Array.isArray(topics) &&
    topics.length > 0 &&
    topics.every((topic) => typeof topic === 'string') &&
    typeof data === 'string' &&
    (event === undefined || typeof event === 'string') &&
    (key === undefined || typeof key === 'string')
  if (!valid) return undefined
  return key === undefined
    ? { topics: topics as string[], data, event }
    : { topics: topics as string[], data, event, key }
}
