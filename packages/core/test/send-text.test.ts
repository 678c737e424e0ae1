import {
  createInstrumentation,
  createResponse,
  createSession,
  type Session,
  SseError,
} from '@sse/core'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'

const encoder = new TextEncoder()
const quiet = { retry: false, heartbeat: false } as const

/** A sink that keeps exactly what it was handed, text or bytes. */
function recordingSink(full = false) {
  const writes: (string | Uint8Array)[] = []
  return {
    writes,
    sink: {
      write(chunk: string | Uint8Array) {
        writes.push(chunk)
        return !full
      },
      onDrain: () => undefined,
      close: () => undefined,
      onClientGone: () => undefined,
    },
  }
}

describe('send hands the transport text, not a TextEncoder copy per event', () => {
  test('JSON and strings arrive as the frame text', () => {
    const { writes, sink } = recordingSink()
    const session = createSession(sink, quiet)
    session.send({ a: 1, text: 'two\nlines\r\n' }, { event: 'order', id: '7' })
    session.send('plain')
    session.comment('ping')
    expect(writes).toEqual([
      'event: order\nid: 7\ndata: {"a":1,"text":"two\\nlines\\r\\n"}\n\n',
      'data: plain\n\n',
      ': ping\n',
    ])
  })

  test("a custom serializer's line breaks are still split into data lines", () => {
    const { writes, sink } = recordingSink()
    const session = createSession(sink, { ...quiet, serialize: (value) => `${value}\nend` })
    session.send({ toString: () => 'first' })
    expect(writes).toEqual(['data: first\ndata: end\n\n'])
  })

  test('alternating event names, with and without ids, each frame carries its own name', () => {
    const { writes, sink } = recordingSink()
    const session = createSession(sink, quiet)
    session.send(1, { event: 'a', id: '1' })
    session.send(2, { event: 'b' })
    session.send(3, { event: 'a' })
    session.send(4, { event: 'b', id: '4' })
    session.send(5, { id: '5' })
    expect(writes).toEqual([
      'event: a\nid: 1\ndata: 1\n\n',
      'event: b\ndata: 2\n\n',
      'event: a\ndata: 3\n\n',
      'event: b\nid: 4\ndata: 4\n\n',
      'id: 5\ndata: 5\n\n',
    ])
  })

  test('a valid event name does not let a later invalid one through', () => {
    const { sink } = recordingSink()
    const session = createSession(sink, quiet)
    session.send('x', { event: 'order' })
    session.send('x', { event: 'order' })
    expect(() => session.send('x', { event: 'order\ndata: forged' })).toThrow(SseError)
    expect(() => session.send('x', { event: 'order', id: 'a\nb' })).toThrow(SseError)
  })

  test('a frame queued behind a full transport is counted in UTF-8 bytes', () => {
    const { writes, sink } = recordingSink(true)
    const session = createSession(sink, { ...quiet, maxQueueBytes: 1 << 20 })
    session.send('first') // accepted; the transport says it is full now
    session.send('日本語 🚀')
    expect(writes).toHaveLength(1)
    expect(session.queuedBytes).toBe(encoder.encode('data: 日本語 🚀\n\n').byteLength)
  })

  test('bytesWritten counts the UTF-8 bytes of text frames, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const instrumentation = createInstrumentation()
        const { writes, sink } = recordingSink()
        const session: Session = createSession(sink, { ...quiet, instrumentation })
        session.send(a)
        session.send(b)
        session.close()
        const bytes = writes.reduce(
          (sum, w) => sum + (typeof w === 'string' ? encoder.encode(w).byteLength : w.byteLength),
          0,
        )
        expect(instrumentation.bytesWritten).toBe(bytes)
      }),
    )
  })
})

describe('the Web binding encodes text frames', () => {
  test('text and byte frames written while the reader is busy arrive in order, as UTF-8', async () => {
    let session!: Session
    const response = createResponse(
      new Request('http://localhost/'),
      (s) => {
        session = s
      },
      quiet,
    )
    const reader = response.body!.getReader()
    session.send('café')
    session.write(encoder.encode('data: bytes\n\n'))
    session.send({ emoji: '🚀' })
    session.close()
    const chunks: Uint8Array[] = []
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
    }
    const text = new TextDecoder().decode(Buffer.concat(chunks))
    expect(text).toBe('data: café\n\ndata: bytes\n\ndata: {"emoji":"🚀"}\n\n')
  })
})
