import { createParser, encode, type ParsedEvent } from '@sse/core'

// Line breaks in data become `data:` lines: text can never forge a field or an event.
export const frame = encode({ event: 'update', id: '7', data: 'line 1\nline 2' })
// 'event: update\nid: 7\ndata: line 1\ndata: line 2\n\n'

// Reads any event stream, however it is chunked (bytes or strings).
export async function collect(body: ReadableStream<Uint8Array>): Promise<ParsedEvent[]> {
  const events: ParsedEvent[] = []
  const parser = createParser({
    onEvent: (event) => events.push(event), // { type, data, lastEventId }
    onRetry: (ms) => console.log('reconnect after', ms),
    onError: (error) => console.warn(error.code), // SSE_MAX_SIZE_EXCEEDED
  })
  const reader = body.getReader()
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    parser.feed(read.value)
  }
  return events
}
