import type { ParsedEvent, Session } from '@sse/core'

/**
 * The contract's `/script` route, for every binding (Node adapters and the
 * Web runtimes): multi-line data in every line ending, a named event with an
 * id, an empty event, then a message after it. Sent with `retry: 1234`.
 * No Node imports: the Web runtimes' bundle includes it.
 */
export function sendScript(session: Session): void {
  session.send('first')
  session.send({ n: 2 }, { event: 'named', id: '2' })
  session.send('line1\nline2\r\nline3\rline4', { id: '3' })
  session.send('', { event: 'empty' })
  session.send('after empty')
}

/** What a spec parser dispatches for `/script` (the last id persists across events). */
export const SCRIPT_EVENTS: readonly ParsedEvent[] = [
  { type: 'message', data: 'first', lastEventId: '' },
  { type: 'named', data: '{"n":2}', lastEventId: '2' },
  { type: 'message', data: 'line1\nline2\nline3\nline4', lastEventId: '3' },
  { type: 'empty', data: '', lastEventId: '3' },
  { type: 'message', data: 'after empty', lastEventId: '3' },
]
