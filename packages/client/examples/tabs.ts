import type { EventStream, ParsedEvent } from '@sse/client'
import { connectShared } from '@sse/client/shared'

// However many tabs show this user's feed, the server sees one stream: one
// tab holds it and relays every event to the others; if it closes, another
// takes over from the last id. Hidden tabs need no stream of their own.
export function feed(userId: string, onNotice: (event: ParsedEvent) => void): EventStream {
  const stream = connectShared('/feed', { key: userId, hidden: 'close' })
  stream.addEventListener('notice', onNotice)
  return stream
}
