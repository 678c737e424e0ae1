// Typed events at run time: the data of each event parsed as JSON into
// `value`, and checked against its type's Standard Schema when there is one.
import { type EventMap, type ParsedEvent, SseError } from '@sse/core'
import type { ClientOptions, TypedOptions } from './types'

/** An event ready to dispatch, or the error that keeps it from being dispatched. */
export type Typing = (event: ParsedEvent) => ParsedEvent | SseError

/** The typing step `options` asks for, or `undefined` for plain events. */
export function typingOf(
  options: ClientOptions & Partial<TypedOptions<EventMap>>,
): Typing | undefined {
  const { json, schemas } = options
  if (json === undefined && schemas === undefined) return undefined
  if (json !== true) throw new TypeError('connect: typed events (`schemas`) need `json: true`')
  if (schemas !== undefined && (typeof schemas !== 'object' || schemas === null)) {
    throw new TypeError('connect: `schemas` must be an object of Standard Schemas by event type')
  }
  return (event) => {
    let value: unknown
    try {
      value = JSON.parse(event.data)
    } catch (cause) {
      return invalid(`The data of a '${event.type}' event is not JSON`, cause)
    }
    const schema = schemas?.[event.type]
    if (schema !== undefined) {
      const result = schema['~standard'].validate(value)
      if (result instanceof Promise) {
        // Awaiting it would let later events overtake this one.
        result.catch(() => undefined)
        return invalid(`The schema for '${event.type}' is async; events need a sync schema`)
      }
      if (result.issues !== undefined) {
        const messages = result.issues.map((issue) => issue.message).join('; ')
        return invalid(`A '${event.type}' event failed its schema: ${messages}`, result.issues)
      }
      value = result.value
    }
    return { ...event, value } as ParsedEvent
  }
}

function invalid(message: string, cause?: unknown): SseError {
  return new SseError('SSE_INVALID_EVENT', message, { cause })
}
