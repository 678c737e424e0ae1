import { encode, encodeBytes, encodeComment, SseError, type SseEvent } from '@sse/core'
import { describe, expect, test } from 'vitest'
import { eventsOf, parseChunks, utf8 } from './helpers'

function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected the call to throw')
}

function expectInvalidField(fn: () => unknown, field: 'event' | 'id' | 'retry'): void {
  const error = thrown(fn)
  expect(error).toBeInstanceOf(SseError)
  expect(error).toMatchObject({ name: 'SseError', code: 'SSE_INVALID_FIELD', field })
}

describe('frames', () => {
  test('data only', () => {
    expect(encode({ data: 'hello' })).toBe('data: hello\n\n')
  })

  test('event, id and data, in that order', () => {
    expect(encode({ event: 'price', id: '42', data: '{"usd":1}' })).toBe(
      'event: price\nid: 42\ndata: {"usd":1}\n\n',
    )
  })

  test('every field at once: comment first, then event, id, retry, data', () => {
    expect(encode({ data: 'd', retry: 3000, id: '7', event: 'e', comment: 'note' })).toBe(
      ': note\nevent: e\nid: 7\nretry: 3000\ndata: d\n\n',
    )
  })

  test('comment and data', () => {
    expect(encode({ comment: 'hi', data: 'x' })).toBe(': hi\ndata: x\n\n')
  })

  test('retry and data', () => {
    expect(encode({ retry: 0, data: 'x' })).toBe('retry: 0\ndata: x\n\n')
  })

  test('comment-only frame has no blank line, so it dispatches nothing', () => {
    expect(encode({ comment: 'ping' })).toBe(': ping\n')
  })

  test('retry-only frame has no blank line', () => {
    expect(encode({ retry: 1500 })).toBe('retry: 1500\n')
  })

  test('comment and retry without data', () => {
    expect(encode({ comment: 'c', retry: 10 })).toBe(': c\nretry: 10\n')
  })

  test('id-only frame ends with a blank line, so the client records the id', () => {
    expect(encode({ id: '5' })).toBe('id: 5\n\n')
    const parsed = parseChunks([encode({ id: '5' })])
    expect(parsed.events).toEqual([])
    expect(parsed.lastEventId).toBe('5')
  })

  test('event-only frame ends with a blank line', () => {
    expect(encode({ event: 'x' })).toBe('event: x\n\n')
  })

  test('empty id resets the last event ID', () => {
    expect(encode({ id: '', data: 'x' })).toBe('id: \ndata: x\n\n')
    expect(
      parseChunks([encode({ id: '1', data: 'a' }), encode({ id: '', data: 'b' })]).events,
    ).toEqual([
      { type: 'message', data: 'a', lastEventId: '1' },
      { type: 'message', data: 'b', lastEventId: '' },
    ])
  })

  test('empty event object encodes to nothing', () => {
    expect(encode({})).toBe('')
  })

  test('values keep leading spaces, colons and NUL in event names', () => {
    const frame = encode({ event: ' a:b\0', id: ' 1', data: '  two spaces' })
    expect(frame).toBe('event:  a:b\0\nid:  1\ndata:   two spaces\n\n')
    expect(eventsOf(frame)).toEqual([{ type: ' a:b\0', data: '  two spaces', lastEventId: ' 1' }])
  })

  test('empty event name encodes as a field the client reads as "message"', () => {
    expect(encode({ event: '', data: 'x' })).toBe('event: \ndata: x\n\n')
    expect(eventsOf(encode({ event: '', data: 'x' }))).toEqual([
      { type: 'message', data: 'x', lastEventId: '' },
    ])
  })

  test('retry at the largest safe integer', () => {
    expect(encode({ retry: Number.MAX_SAFE_INTEGER })).toBe('retry: 9007199254740991\n')
  })

  test('retry -0 is written as 0', () => {
    expect(encode({ retry: -0 })).toBe('retry: 0\n')
  })
})

describe('data lines', () => {
  test.each<[string, string, string[]]>([
    ['LF', 'a\nb', ['a', 'b']],
    ['CR', 'a\rb', ['a', 'b']],
    ['CRLF', 'a\r\nb', ['a', 'b']],
    ['LF then CR is two breaks', 'a\n\rb', ['a', '', 'b']],
    ['CR CR', 'a\r\rb', ['a', '', 'b']],
    ['LF LF', 'a\n\nb', ['a', '', 'b']],
    ['CRLF then LF', 'a\r\n\nb', ['a', '', 'b']],
    ['CRLF CRLF', 'a\r\n\r\nb', ['a', '', 'b']],
    ['mixture', '1\n2\r3\r\n4', ['1', '2', '3', '4']],
    ['trailing LF', 'a\n', ['a', '']],
    ['trailing CR', 'a\r', ['a', '']],
    ['trailing CRLF', 'a\r\n', ['a', '']],
    ['leading break', '\na', ['', 'a']],
    ['only a break', '\r\n', ['', '']],
    ['only breaks', '\n\r\n\r', ['', '', '', '']],
  ])('%s: one data line per line', (_name, data, lines) => {
    const expected = lines.map((l) => 'data: ' + l + '\n').join('') + '\n'
    expect(encode({ data })).toBe(expected)
    // And the client joins them back with LF.
    expect(eventsOf(encode({ data }))).toEqual([
      { type: 'message', data: lines.join('\n'), lastEventId: '' },
    ])
  })

  test('empty data still produces a data line, and the client dispatches it', () => {
    expect(encode({ data: '' })).toBe('data: \n\n')
    expect(eventsOf(encode({ data: '' }))).toEqual([{ type: 'message', data: '', lastEventId: '' }])
  })

  test('U+2028, U+0085 and NUL are not line breaks', () => {
    expect(encode({ data: 'a\u2028b\u0085c\0d' })).toBe('data: a\u2028b\u0085c\0d\n\n')
  })
})

describe('comments', () => {
  test('single line', () => {
    expect(encodeComment('keep-alive')).toBe(': keep-alive\n')
  })

  test('empty comment is a bare colon', () => {
    expect(encodeComment('')).toBe(':\n')
    expect(encode({ comment: '' })).toBe(':\n')
  })

  test('line breaks of every kind become several comment lines', () => {
    expect(encodeComment('a\nb\r\nc\rd')).toBe(': a\n: b\n: c\n: d\n')
    expect(encode({ comment: 'a\r\n\nb' })).toBe(': a\n: \n: b\n')
  })

  test('trailing break gives a trailing empty comment line', () => {
    expect(encodeComment('a\n')).toBe(': a\n: \n')
  })

  test('a multi-line comment cannot smuggle in a field', () => {
    const parsed = parseChunks([encode({ comment: 'x\ndata: evil\n', data: 'ok' })])
    expect(parsed.events).toEqual([{ type: 'message', data: 'ok', lastEventId: '' }])
    expect(parsed.comments).toEqual(['x', 'data: evil', ''])
  })
})

describe('encodeBytes', () => {
  test.each<[string, SseEvent]>([
    ['ASCII', { event: 'e', id: '1', data: 'hello' }],
    ['two- and three-byte characters', { data: 'é€', event: 'ü' }],
    ['astral characters', { data: '😀\n𝄞', id: '🆔' }],
    ['comment-only', { comment: 'ping\npong' }],
    ['retry-only', { retry: 42 }],
  ])('is the UTF-8 of encode: %s', (_name, event) => {
    expect(encodeBytes(event)).toEqual(new TextEncoder().encode(encode(event)))
  })

  test('exact bytes of a frame with a two-byte character', () => {
    expect(Array.from(encodeBytes({ data: 'é' }))).toEqual([
      0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0xc3, 0xa9, 0x0a, 0x0a,
    ])
  })

  test('a lone surrogate becomes U+FFFD (EF BF BD)', () => {
    expect(Array.from(encodeBytes({ data: '\uD83D' }))).toEqual([
      ...utf8('data: '),
      0xef,
      0xbf,
      0xbd,
      0x0a,
      0x0a,
    ])
  })

  test('returns a Uint8Array', () => {
    expect(encodeBytes({ data: 'x' })).toBeInstanceOf(Uint8Array)
  })
})

describe('rejections', () => {
  test.each(['a\nb', 'a\rb', 'a\r\nb', '\n', 'x\r', '\r\n'])(
    'event containing a line break (%j) is SSE_INVALID_FIELD',
    (value) => {
      expectInvalidField(() => encode({ event: value, data: 'x' }), 'event')
      expectInvalidField(() => encodeBytes({ event: value }), 'event')
    },
  )

  test.each(['a\nb', 'a\rb', 'a\r\nb', '\n', 'x\r', '\r\n'])(
    'id containing a line break (%j) is SSE_INVALID_FIELD',
    (value) => {
      expectInvalidField(() => encode({ id: value, data: 'x' }), 'id')
      expectInvalidField(() => encodeBytes({ id: value }), 'id')
    },
  )

  test.each(['\0', 'a\0', '\0b', 'a\0b'])(
    'id containing NUL (%j) is SSE_INVALID_FIELD',
    (value) => {
      expectInvalidField(() => encode({ id: value, data: 'x' }), 'id')
    },
  )

  test.each([
    -1,
    -0.5,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 53,
  ])('retry %d is SSE_INVALID_FIELD', (retry) => {
    expectInvalidField(() => encode({ retry, data: 'x' }), 'retry')
    expectInvalidField(() => encode({ retry }), 'retry')
  })

  test('the error message names the field', () => {
    expect(() => encode({ event: 'a\nb' })).toThrow(/`event`/)
    expect(() => encode({ id: 'a\0' })).toThrow(/`id`/)
    expect(() => encode({ retry: -1 })).toThrow(/`retry`.*-1/)
  })

  test.each<[string, unknown]>([
    ['number', 42],
    ['null', null],
    ['object', { a: 1 }],
    ['Uint8Array', new Uint8Array([1])],
  ])('non-string data (%s) is a TypeError with a hint', (_name, data) => {
    const error = thrown(() => encode({ data } as unknown as SseEvent))
    expect(error).toBeInstanceOf(TypeError)
    expect(error).not.toBeInstanceOf(SseError)
    expect((error as Error).message).toMatch(/`data` must be a string.*JSON\.stringify/)
  })

  test('non-string event, id and comment are TypeErrors', () => {
    expect(() => encode({ event: 1 } as unknown as SseEvent)).toThrow(TypeError)
    expect(() => encode({ id: 1 } as unknown as SseEvent)).toThrow(TypeError)
    expect(() => encode({ comment: null } as unknown as SseEvent)).toThrow(
      /`comment` must be a string, got null/,
    )
    expect(() => encodeComment(5 as unknown as string)).toThrow(TypeError)
  })
})

describe('SseError', () => {
  test('carries code, field, name and cause, and is an Error', () => {
    const error = thrown(() => encode({ id: 'a\nb' }))
    expect(error).toBeInstanceOf(SseError)
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({ name: 'SseError', code: 'SSE_INVALID_FIELD', field: 'id' })
    const cause = new Error('disk full')
    const wrapped = new SseError('SSE_STORE', 'append failed', { cause })
    expect(wrapped.cause).toBe(cause)
    expect(wrapped.field).toBeUndefined()
    expect(wrapped.message).toBe('append failed')
    expect('cause' in new SseError('SSE_STORE', 'no cause')).toBe(false)
  })

  test('instanceof holds for an error from a second copy of the package', () => {
    // A second copy has its own class but tags instances with the same registered symbol.
    class OtherCopySseError extends Error {
      readonly code = 'SSE_INVALID_FIELD'
      constructor() {
        super('from the other copy')
        Object.defineProperty(this, Symbol.for('@sse/core.SseError'), { value: true })
      }
    }
    expect(new OtherCopySseError()).toBeInstanceOf(SseError)
    expect({ [Symbol.for('@sse/core.SseError')]: true }).toBeInstanceOf(SseError)
  })

  test('instanceof is false for other errors and values', () => {
    expect(new Error('x')).not.toBeInstanceOf(SseError)
    expect(new TypeError('x')).not.toBeInstanceOf(SseError)
    expect({ code: 'SSE_INVALID_FIELD', name: 'SseError' }).not.toBeInstanceOf(SseError)
    // A symbol that is not the registered one does not count.
    expect({ [Symbol('@sse/core.SseError')]: true }).not.toBeInstanceOf(SseError)
    expect(SseError[Symbol.hasInstance](null)).toBe(false)
    expect(SseError[Symbol.hasInstance]('SseError')).toBe(false)
  })
})
