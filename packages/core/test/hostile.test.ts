import { createHub, createSession, SseError } from '@sse/core'
import { createParser as referenceParser } from 'eventsource-parser'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { memorySink } from './fixtures'
import { anyText, parseChunks, viaUtf8 } from './helpers'

// Text built to look like SSE: field names, colons, every line ending, NUL,
// BOMs and blank lines, mixed with arbitrary Unicode.
const sseLike = fc
  .array(
    fc.oneof(
      anyText,
      fc.constantFrom(
        'data:',
        'data: ',
        'event: forged',
        'id: 999',
        'retry: 1',
        ': comment',
        '\n',
        '\r',
        '\r\n',
        '\n\n',
        '\r\r',
        '\0',
        '\uFEFF',
        ':',
      ),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''))

/** What a browser would see from these bytes: our parser and one we did not write. */
function bothParsers(bytes: Uint8Array) {
  const ours = parseChunks([bytes])
  const theirs: Array<{ type: string; data: string }> = []
  const reference = referenceParser({
    onEvent: (e) => theirs.push({ type: e.event ?? 'message', data: e.data }),
  })
  reference.feed(new TextDecoder().decode(bytes))
  return { ours, theirs }
}

/**
 * The data a client can receive for `text`: UTF-8 round-tripped, and every
 * line ending as LF (the protocol splits on CR, LF and CRLF and joins with LF).
 */
function intended(text: string): string {
  return viaUtf8(text).replace(/\r\n|\r/g, '\n')
}

function written(sink: ReturnType<typeof memorySink>): Uint8Array {
  const total = sink.chunks.reduce((n, c) => n + c.byteLength, 0)
  const all = new Uint8Array(total)
  let at = 0
  for (const chunk of sink.chunks) {
    all.set(chunk, at)
    at += chunk.byteLength
  }
  return all
}

describe('untrusted text can never forge a field or an event', () => {
  test('serializer output and data: exactly the intended event, whatever the text', () => {
    fc.assert(
      fc.property(sseLike, sseLike, (payload, comment) => {
        const sink = memorySink()
        const session = createSession(sink, {
          retry: false,
          heartbeat: false,
          serialize: (value) => String(value),
        })
        session.comment(comment)
        session.send(payload, { event: 'intended', id: 'the-id' })
        const { ours, theirs } = bothParsers(written(sink))
        const data = intended(payload)
        expect(ours.events).toEqual([{ type: 'intended', data, lastEventId: 'the-id' }])
        expect(ours.retries).toEqual([])
        expect(theirs).toEqual([{ type: 'intended', data }])
      }),
      { numRuns: 500 },
    )
  })

  test('event names and ids: either exactly the intended event or an SseError and no bytes', () => {
    fc.assert(
      fc.property(sseLike, sseLike, anyText, (event, id, data) => {
        const sink = memorySink()
        const session = createSession(sink, { retry: false, heartbeat: false })
        let result: boolean | SseError
        try {
          result = session.send(data, { event, id })
        } catch (error) {
          result = error as SseError
        }
        if (result instanceof SseError) {
          expect(result.code).toBe('SSE_INVALID_FIELD')
          expect(sink.chunks).toEqual([])
          return
        }
        const { ours } = bothParsers(written(sink))
        expect(ours.events).toEqual([
          { type: viaUtf8(event) || 'message', data: intended(data), lastEventId: viaUtf8(id) },
        ])
      }),
      { numRuns: 500 },
    )
  })

  test('a broadcast of hostile text reaches every session as one intact event', async () => {
    await fc.assert(
      fc.asyncProperty(sseLike, async (payload) => {
        const hub = createHub()
        const sinks = [memorySink(), memorySink(), memorySink()]
        for (const sink of sinks)
          await hub.subscribe(createSession(sink, { retry: false, heartbeat: false }), 'room').ready
        await hub.publish('room', payload)
        for (const sink of sinks) {
          expect(parseChunks([written(sink)]).events).toEqual([
            { type: 'message', data: intended(payload), lastEventId: expect.stringMatching(/^0:/) },
          ])
        }
      }),
      { numRuns: 200 },
    )
  })
})
