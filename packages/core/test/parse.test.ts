import v8 from 'node:v8'
import vm from 'node:vm'
import { createParser, type ParsedEvent, SseError } from '@sse/core'
import { describe, expect, test } from 'vitest'
import { bytes, concatBytes, ev, eventsOf, parseChunks, splitBySizes, utf8 } from './helpers'

/** Each event's data, for tests about data only. */
function dataOf(stream: string | Array<string | Uint8Array>): string[] {
  return parseChunks(typeof stream === 'string' ? [stream] : stream).events.map((e) => e.data)
}

// The rules of https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
// (and of the grammar in #parsing-an-event-stream), one test each.
describe('decoding (UTF-8)', () => {
  test('bytes are decoded as UTF-8', () => {
    expect(dataOf([utf8('data: héllo € 😀\n\n')])).toEqual(['héllo € 😀'])
  })

  test('a two-byte character split across chunks', () => {
    expect(dataOf([concatBytes(utf8('data: '), bytes(0xc3)), bytes(0xa9, 0x0a, 0x0a)])).toEqual([
      'é',
    ])
  })

  test('a three-byte character split into three chunks', () => {
    expect(
      dataOf([concatBytes(utf8('data: '), bytes(0xe2)), bytes(0x82), bytes(0xac), utf8('\n\n')]),
    ).toEqual(['€'])
  })

  test('a four-byte astral character split at every byte', () => {
    expect(
      dataOf([utf8('data: '), bytes(0xf0), bytes(0x9f), bytes(0x98), bytes(0x80), utf8('!\n\n')]),
    ).toEqual(['😀!'])
  })

  test('a four-byte character split 3 + 1 inside larger chunks', () => {
    const whole = utf8('data: a😀b\n\n')
    expect(dataOf([whole.subarray(0, 10), whole.subarray(10)])).toEqual(['a😀b'])
  })

  test('every byte boundary of a multi-byte stream decodes the same', () => {
    const whole = utf8('data: é€😀\u{10FFFF}\n\n')
    for (let cut = 0; cut <= whole.length; cut++) {
      expect(dataOf([whole.subarray(0, cut), whole.subarray(cut)])).toEqual(['é€😀\u{10FFFF}'])
    }
    expect(dataOf(splitBySizes(whole, [1]))).toEqual(['é€😀\u{10FFFF}'])
  })

  test('invalid UTF-8 becomes U+FFFD', () => {
    expect(dataOf([concatBytes(utf8('data: '), bytes(0xff, 0x61), utf8('\n\n'))])).toEqual([
      '\uFFFDa',
    ])
  })

  test('a truncated sequence followed by a small ASCII chunk becomes U+FFFD', () => {
    expect(dataOf([concatBytes(utf8('data: '), bytes(0xe2, 0x82)), utf8('x\n\n')])).toEqual([
      '\uFFFDx',
    ])
  })

  // Regression: an empty chunk reset the "decoder holds a partial sequence"
  // flag, so the next small ASCII chunk skipped the decoder: U+FFFD was lost
  // and the held byte later corrupted the next line into an unknown field.
  test('an empty byte chunk between the bytes of a broken sequence changes nothing', () => {
    expect(
      dataOf([
        concatBytes(utf8('data: '), bytes(0xe2)),
        new Uint8Array(0),
        utf8('A\n\n'),
        utf8('data: €\n\n'),
      ]),
    ).toEqual(['\uFFFDA', '€'])
  })

  test('a string chunk may end between the halves of a surrogate pair', () => {
    expect(dataOf(['data: \uD83D', '\uDE00\n\n'])).toEqual(['😀'])
  })

  test('strings and bytes may be mixed', () => {
    expect(dataOf(['data: a', utf8('é\n'), 'data: b\n', bytes(0x0a)])).toEqual(['aé\nb'])
  })
})

describe('BOM', () => {
  test('one leading U+FEFF is stripped from a string stream', () => {
    expect(eventsOf('\uFEFFdata: a\n\n')).toEqual([ev('a')])
  })

  test('one leading EF BB BF is stripped from a byte stream', () => {
    expect(dataOf([concatBytes(bytes(0xef, 0xbb, 0xbf), utf8('data: a\n\n'))])).toEqual(['a'])
  })

  test('a BOM split across byte chunks is stripped', () => {
    expect(
      dataOf([bytes(0xef), bytes(0xbb), concatBytes(bytes(0xbf), utf8('data: a\n\n'))]),
    ).toEqual(['a'])
  })

  test('only one BOM is stripped: a second one starts an unknown field name', () => {
    expect(dataOf('\uFEFF\uFEFFdata: a\n\ndata: b\n\n')).toEqual(['b'])
  })

  test('a BOM later in the stream is not stripped', () => {
    expect(dataOf('data: a\n\n\uFEFFdata: b\n\n')).toEqual(['a'])
    expect(dataOf('data: \uFEFFx\n\n')).toEqual(['\uFEFFx'])
  })

  test('a BOM at the start of the second chunk is not stripped', () => {
    expect(dataOf(['data: a\n\n', '\uFEFFdata: b\n\n'])).toEqual(['a'])
  })

  test('an empty first chunk does not use up the BOM check', () => {
    expect(dataOf(['', '\uFEFFdata: a\n\n'])).toEqual(['a'])
    expect(
      dataOf([new Uint8Array(0), concatBytes(bytes(0xef, 0xbb, 0xbf), utf8('data: a\n\n'))]),
    ).toEqual(['a'])
  })

  test('after reset() a BOM is stripped again', () => {
    const events: string[] = []
    const parser = createParser({ onEvent: (e) => events.push(e.data) })
    parser.feed('\uFEFFdata: a\n\n')
    parser.feed('\uFEFFdata: not stripped\n\n')
    parser.reset()
    parser.feed('\uFEFFdata: b\n\n')
    expect(events).toEqual(['a', 'b'])
  })
})

describe('line ends', () => {
  test.each([
    ['LF', '\n'],
    ['CR', '\r'],
    ['CRLF', '\r\n'],
  ])('%s ends a line', (_name, end) => {
    expect(eventsOf(`data: a${end}data: b${end}${end}`)).toEqual([ev('a\nb')])
  })

  test('CRLF is one line end, not a line end and an empty line', () => {
    expect(eventsOf('data: a\r\ndata: b\r\n\r\n')).toEqual([ev('a\nb')])
  })

  test('LF CR is two line ends', () => {
    expect(eventsOf('data: a\n\rdata: b\n\n')).toEqual([ev('a'), ev('b')])
  })

  test('CR CR is a line end and an empty line', () => {
    expect(eventsOf('data: a\r\r')).toEqual([ev('a')])
  })

  test('mixed line ends in one stream', () => {
    expect(eventsOf('data: 1\rdata: 2\ndata: 3\r\n\ndata: 4\r\r')).toEqual([ev('1\n2\n3'), ev('4')])
  })

  test('CR at the end of a chunk and LF at the start of the next are ONE line end', () => {
    expect(eventsOf('data: a\r\ndata: b\r\n\r\n')).toEqual([ev('a\nb')])
    expect(parseChunks(['data: a\r', '\ndata: b\r', '\n\r', '\n']).events).toEqual([ev('a\nb')])
  })

  test('the same split CRLF in a byte stream', () => {
    expect(
      parseChunks([utf8('data: a\r'), utf8('\ndata: b\r'), utf8('\n\r'), utf8('\n')]).events,
    ).toEqual([ev('a\nb')])
  })

  test('a split CRLF survives an empty chunk in between', () => {
    expect(parseChunks(['data: a\r', '', '\ndata: b\n\n']).events).toEqual([ev('a\nb')])
    expect(
      parseChunks([utf8('data: a\r'), new Uint8Array(0), utf8('\ndata: b\n\n')]).events,
    ).toEqual([ev('a\nb')])
  })

  test('CR at the end of a chunk followed by a chunk without LF', () => {
    expect(parseChunks(['data: a\r', 'data: b\r', '\r']).events).toEqual([ev('a\nb')])
  })

  test('only one LF after a chunk-final CR belongs to it', () => {
    expect(parseChunks(['data: a\r', '\n\n']).events).toEqual([ev('a')])
  })

  test('the line before a chunk-final CR is handled at once, not on the next chunk', () => {
    const events: ParsedEvent[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    parser.feed('data: a\n\r')
    expect(events).toEqual([ev('a')])
  })

  test('U+2028, U+0085 and vertical tab are not line ends', () => {
    expect(eventsOf('data: a\u2028b\u0085c\vd\n\n')).toEqual([ev('a\u2028b\u0085c\vd')])
  })
})

describe('lines and fields', () => {
  test('an empty line dispatches the event', () => {
    const events: string[] = []
    const parser = createParser({ onEvent: (e) => events.push(e.data) })
    parser.feed('data: a\n')
    expect(events).toEqual([])
    parser.feed('\n')
    expect(events).toEqual(['a'])
  })

  test('a line starting with a colon is ignored', () => {
    expect(eventsOf(':data: x\n\n')).toEqual([])
    expect(eventsOf(': comment\ndata: x\n:another\n\n')).toEqual([ev('x')])
  })

  test('comments go to onComment without the colon and one leading space', () => {
    expect(parseChunks([':x\n: x\n:  x\n:\n: \n:a:b\n']).comments).toEqual([
      'x',
      'x',
      ' x',
      '',
      '',
      'a:b',
    ])
  })

  test('the field name is what precedes the first colon, the value what follows it', () => {
    expect(eventsOf('data:a:b: c\n\n')).toEqual([ev('a:b: c')])
    expect(eventsOf('event:x:y\ndata\n\n')).toEqual([ev('', 'x:y')])
  })

  test('exactly one leading space is stripped from the value', () => {
    expect(dataOf('data:a\n\n')).toEqual(['a'])
    expect(dataOf('data: a\n\n')).toEqual(['a'])
    expect(dataOf('data:  a\n\n')).toEqual([' a'])
    expect(dataOf('data:   a  \n\n')).toEqual(['  a  '])
    expect(eventsOf('event:  x\nid:  1\ndata\n\n')).toEqual([ev('', ' x', ' 1')])
  })

  test('a data line split by a chunk at any point strips one space, no more, no less', () => {
    for (const line of ['data:  two spaces', 'data: one space', 'data:none']) {
      const stream = `${line}\ndata: next\n\n`
      const whole = dataOf(stream)
      expect(whole).toEqual([`${line.slice(line.charAt(5) === ' ' ? 6 : 5)}\nnext`])
      for (let cut = 1; cut < stream.length; cut++) {
        expect(dataOf([stream.slice(0, cut), stream.slice(cut)])).toEqual(whole)
        expect(dataOf([utf8(stream.slice(0, cut)), utf8(stream.slice(cut))])).toEqual(whole)
      }
    }
  })

  test('a tab after the colon is kept', () => {
    expect(dataOf('data:\ta\n\n')).toEqual(['\ta'])
  })

  test('a line without a colon is a field name with an empty value', () => {
    expect(eventsOf('data\n\n')).toEqual([ev('')])
    expect(eventsOf('data\ndata\n\n')).toEqual([ev('\n')])
    expect(eventsOf('event: x\nevent\ndata: a\n\n')).toEqual([ev('a')])
    expect(eventsOf('id: 1\ndata: a\n\nid\ndata: b\n\n')).toEqual([
      ev('a', 'message', '1'),
      ev('b'),
    ])
  })

  test('field names are case-sensitive', () => {
    expect(eventsOf('Data: x\nDATA: y\n\n')).toEqual([])
    expect(eventsOf('Event: e\ndata: x\n\n')).toEqual([ev('x')])
    expect(eventsOf('ID: 1\ndata: x\n\n')).toEqual([ev('x')])
  })

  test('spaces around the field name are part of it', () => {
    expect(eventsOf('data : x\n data: y\n\n')).toEqual([])
  })

  test('unknown fields are ignored', () => {
    expect(eventsOf('foo: bar\ndata: x\nbaz\nidx: 1\neventually: e\nretryx: 1\n\n')).toEqual([
      ev('x'),
    ])
  })

  test('data lines are appended with LF between them', () => {
    expect(dataOf('data: a\ndata: b\ndata: c\n\n')).toEqual(['a\nb\nc'])
  })

  test('only the one trailing LF of the data buffer is removed', () => {
    expect(dataOf('data: a\ndata:\n\n')).toEqual(['a\n'])
    expect(dataOf('data:\ndata:\ndata:\n\n')).toEqual(['\n\n'])
  })

  test('an empty data value still dispatches an event with empty data', () => {
    expect(eventsOf('data:\n\n')).toEqual([ev('')])
  })

  test('no event is dispatched without a data line', () => {
    expect(eventsOf('event: x\nid: 1\nretry: 5\n: c\n\n')).toEqual([])
  })

  test('empty lines without any field dispatch nothing', () => {
    expect(eventsOf('\n\n\r\n\r\r')).toEqual([])
  })

  test('NUL in data and event is kept', () => {
    expect(eventsOf('event: a\0b\ndata: \0\0\n\n')).toEqual([ev('\0\0', 'a\0b')])
  })
})

describe('event type', () => {
  test('defaults to "message"', () => {
    expect(eventsOf('data: x\n\n')).toEqual([ev('x', 'message')])
  })

  test('the event field sets it', () => {
    expect(eventsOf('event: update\ndata: x\n\n')).toEqual([ev('x', 'update')])
  })

  test('the last event field of the block wins', () => {
    expect(eventsOf('event: a\nevent: b\ndata: x\n\n')).toEqual([ev('x', 'b')])
  })

  test('an empty event field means "message"', () => {
    expect(eventsOf('event:\ndata: x\n\n')).toEqual([ev('x')])
    expect(eventsOf('event: a\nevent: \ndata: x\n\n')).toEqual([ev('x')])
  })

  test('is reset after each dispatch', () => {
    expect(eventsOf('event: a\ndata: 1\n\ndata: 2\n\n')).toEqual([ev('1', 'a'), ev('2')])
  })

  test('is reset by an empty line even when nothing was dispatched', () => {
    expect(eventsOf('event: a\n\ndata: 2\n\n')).toEqual([ev('2')])
  })
})

describe('last event ID', () => {
  test('the id field sets it for this and later events', () => {
    expect(eventsOf('id: 1\ndata: a\n\ndata: b\n\n')).toEqual([
      ev('a', 'message', '1'),
      ev('b', 'message', '1'),
    ])
  })

  test('an id after the data line in the same block still applies', () => {
    expect(eventsOf('data: a\nid: 2\n\n')).toEqual([ev('a', 'message', '2')])
  })

  test('an id containing NUL is ignored and the previous id kept', () => {
    expect(eventsOf('id: 1\ndata: a\n\nid: 2\0\ndata: b\n\nid: \0\ndata: c\n\n')).toEqual([
      ev('a', 'message', '1'),
      ev('b', 'message', '1'),
      ev('c', 'message', '1'),
    ])
  })

  test('an ignored NUL id does not undo a valid id in the same block', () => {
    expect(eventsOf('id: 5\nid: x\0\ndata: a\n\n')).toEqual([ev('a', 'message', '5')])
  })

  test('any other character is fine in an id', () => {
    expect(eventsOf('id: é 😀 : \u2028\ndata: a\n\n')).toEqual([
      ev('a', 'message', 'é 😀 : \u2028'),
    ])
  })

  test('an empty id resets it', () => {
    expect(eventsOf('id: 1\ndata: a\n\nid:\ndata: b\n\n')).toEqual([
      ev('a', 'message', '1'),
      ev('b'),
    ])
  })

  test('an id-only event dispatches nothing but updates parser.lastEventId', () => {
    const parsed = parseChunks(['id: 7\n\n'])
    expect(parsed.events).toEqual([])
    expect(parsed.lastEventId).toBe('7')
    expect(parseChunks(['id: 7\n\ndata: x\n\n']).events).toEqual([ev('x', 'message', '7')])
  })

  test('parser.lastEventId changes at dispatch, not when the id line arrives', () => {
    const parser = createParser()
    parser.feed('id: 3\n')
    expect(parser.lastEventId).toBe('')
    parser.feed('\n')
    expect(parser.lastEventId).toBe('3')
  })

  test('reset() keeps lastEventId but drops an id of an unfinished event', () => {
    const events: ParsedEvent[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    parser.feed('id: 1\ndata: a\n\nid: 2\ndata: b\n')
    parser.reset()
    expect(parser.lastEventId).toBe('1')
    parser.feed('data: c\n\n')
    expect(events).toEqual([ev('a', 'message', '1'), ev('c', 'message', '1')])
  })
})

describe('retry', () => {
  test('ASCII digits set the reconnection time', () => {
    expect(parseChunks(['retry: 1500\nretry:0042\nretry: 0\n']).retries).toEqual([1500, 42, 0])
  })

  test.each([
    ['exponent', 'retry: 1e3'],
    ['two spaces', 'retry:  1000'],
    ['negative', 'retry: -1'],
    ['fraction', 'retry: 1.5'],
    ['empty', 'retry:'],
    ['empty after the space', 'retry: '],
    ['no colon', 'retry'],
    ['trailing space', 'retry: 1000 '],
    ['plus sign', 'retry: +5'],
    ['hex', 'retry: 0x10'],
    ['full-width digits', 'retry: １２'],
    ['words', 'retry: ten'],
    ['tab', 'retry:\t10'],
  ])('is ignored unless only ASCII digits: %s', (_name, line) => {
    const parsed = parseChunks([`retry: 3000\n${line}\ndata: x\n\n`])
    expect(parsed.retries).toEqual([3000])
    expect(parsed.events).toEqual([ev('x')])
  })

  test('does not dispatch and takes effect without an empty line', () => {
    const parsed = parseChunks(['retry: 5'])
    expect(parsed.retries).toEqual([])
    const complete = parseChunks(['retry: 5\n'])
    expect(complete.retries).toEqual([5])
    expect(complete.events).toEqual([])
  })
})

describe('end of stream', () => {
  test('an unfinished event is never dispatched', () => {
    expect(eventsOf('data: a\n')).toEqual([])
    expect(eventsOf('data: a')).toEqual([])
    expect(eventsOf('data: a\n\ndata: b\nid: 9\n')).toEqual([ev('a')])
    expect(parseChunks(['data: a\n\nid: 9\n']).lastEventId).toBe('')
  })

  test('reset() discards an unfinished line', () => {
    const events: string[] = []
    const parser = createParser({ onEvent: (e) => events.push(e.data) })
    parser.feed('data: partial')
    parser.reset()
    parser.feed('data: x\n\n')
    expect(events).toEqual(['x'])
  })

  test('reset() discards an unfinished event', () => {
    const events: ParsedEvent[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    parser.feed('event: e\ndata: a\n')
    parser.reset()
    parser.feed('data: b\n\n')
    expect(events).toEqual([ev('b')])
  })
})

describe('maxEventSize', () => {
  test('an event over the limit made of many data lines is dropped; the next one arrives', () => {
    const stream = 'data: 0123456789\n'.repeat(4) + '\ndata: next\n\n'
    for (const chunks of [[stream], splitBySizes(stream, [1]), splitBySizes(stream, [7, 3])]) {
      const parsed = parseChunks(chunks, { maxEventSize: 32 })
      expect(parsed.events).toEqual([ev('next')])
      expect(parsed.errors).toHaveLength(1)
      expect(parsed.errors[0]).toBeInstanceOf(SseError)
      expect(parsed.errors[0]).toMatchObject({ code: 'SSE_MAX_SIZE_EXCEEDED', field: undefined })
    }
  })

  test('one giant line fed in small chunks is dropped once; the next event arrives', () => {
    const chunks = ['event: big\ndata: ']
    for (let i = 0; i < 1000; i++) chunks.push('x'.repeat(100))
    chunks.push('\nid: 4\ndata: still the dropped event\n\n', 'data: after\n\n')
    const parsed = parseChunks(chunks, { maxEventSize: 1024 })
    expect(parsed.log).toEqual([
      ['error', 'SSE_MAX_SIZE_EXCEEDED'],
      ['event', ev('after')],
    ])
  })

  test('the dropped line is not kept in memory', () => {
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as () => void
    let errors = 0
    const events: string[] = []
    const parser = createParser({
      maxEventSize: 1 << 20,
      onError: () => errors++,
      onEvent: (e) => events.push(e.data),
    })
    // Fresh strings each time (decoded from bytes), so a retained line
    // would really cost 32 MiB and not a rope of one shared leaf.
    const chunk = new Uint8Array(4096).fill(0x61)
    gc()
    const before = process.memoryUsage().heapUsed
    parser.feed('data: ')
    for (let i = 0; i < 8192; i++) parser.feed(chunk)
    gc()
    const grown = process.memoryUsage().heapUsed - before
    expect(errors).toBe(1)
    expect(grown).toBeLessThan(4 * 1024 * 1024)
    parser.feed('\n\ndata: ok\n\n')
    expect(events).toEqual(['ok'])
  })

  test('a line of exactly maxEventSize characters fits, one more does not', () => {
    expect(parseChunks(['data: abcdef\n\n'], { maxEventSize: 12 }).log).toEqual([
      ['event', ev('abcdef')],
    ])
    expect(parseChunks(['data: abcdefg\n\n'], { maxEventSize: 12 }).log).toEqual([
      ['error', 'SSE_MAX_SIZE_EXCEEDED'],
    ])
  })

  // Regression: a finished line was measured by its value, an unfinished one
  // (at a chunk's end) by its whole length, so the same stream was accepted
  // or dropped depending on where the network split it.
  test('whether an event is dropped does not depend on chunking', () => {
    for (const stream of ['data: 012345678\n\n', ': a long comment\n\ndata: x\n\n']) {
      const whole = parseChunks([stream], { maxEventSize: 10 }).log
      for (let cut = 1; cut < stream.length; cut++) {
        const split = [stream.slice(0, cut), stream.slice(cut)]
        expect(parseChunks(split, { maxEventSize: 10 }).log).toEqual(whole)
      }
    }
    expect(parseChunks(['data: 012345678\n\n'], { maxEventSize: 10 }).log).toEqual([
      ['error', 'SSE_MAX_SIZE_EXCEEDED'],
    ])
  })

  // Regression: the id of a dropped event was kept if its id line came before
  // the line that overflowed, and lost if it came after.
  test('an oversized event is dropped with its id, wherever the id line is', () => {
    const big = 'x'.repeat(30)
    const stream = `id: 1\ndata: a\n\nid: 2\ndata: ${big}\n\ndata: b\n\ndata: ${big}\nid: 3\n\ndata: c\n\n`
    const parsed = parseChunks([stream], { maxEventSize: 20 })
    expect(parsed.events).toEqual([
      ev('a', 'message', '1'),
      ev('b', 'message', '1'),
      ev('c', 'message', '1'),
    ])
    expect(parsed.errors).toHaveLength(2)
  })

  test('without onError an oversized event is still dropped', () => {
    const events: string[] = []
    const parser = createParser({ maxEventSize: 8, onEvent: (e) => events.push(e.data) })
    parser.feed('data: far too long\n\ndata: ok\n\n')
    expect(events).toEqual(['ok'])
  })

  test.each([0, -1, Number.NaN])('maxEventSize %d is a TypeError', (maxEventSize) => {
    expect(() => createParser({ maxEventSize })).toThrow(TypeError)
  })
})

describe('callbacks and misuse', () => {
  test('a throwing onEvent: the rest of the chunk still arrives, then feed rethrows', () => {
    const boom = new Error('boom')
    const seen: string[] = []
    const parser = createParser({
      onEvent: (e) => {
        seen.push(e.data)
        if (e.data === 'boom') throw boom
      },
    })
    expect(() => parser.feed('data: a\n\ndata: boom\n\nid: 3\ndata: c\n\ndata: par')).toThrow(boom)
    expect(seen).toEqual(['a', 'boom', 'c'])
    expect(parser.lastEventId).toBe('3')
    // The unfinished line and the parser state survived the throw.
    parser.feed('tial\n\n')
    expect(seen).toEqual(['a', 'boom', 'c', 'partial'])
  })

  test('when several callbacks throw, feed rethrows the first error', () => {
    const parser = createParser({
      onComment: (c) => {
        throw new Error(`comment ${c}`)
      },
      onRetry: () => {
        throw new Error('retry')
      },
    })
    expect(() => parser.feed(': one\nretry: 5\n: two\n')).toThrow('comment one')
    // The next feed is clean again.
    expect(() => parser.feed('data: x\n\n')).not.toThrow()
  })

  test('a throwing onError does not stop the parser', () => {
    const events: string[] = []
    const parser = parserWithThrowingOnError(events)
    expect(() => parser.feed('data: too long for it\n\ndata: ok\n\n')).toThrow(SseError)
    expect(events).toEqual(['ok'])
  })

  test('an oversized line arriving a byte at a time: a throwing onError is rethrown by feed, and parsing goes on', () => {
    const events: string[] = []
    const parser = parserWithThrowingOnError(events)
    parser.feed('data: ')
    let thrown = 0
    for (const char of 'this line is too long') {
      try {
        parser.feed(char)
      } catch (error) {
        expect(error).toBeInstanceOf(SseError)
        thrown++
      }
    }
    expect(thrown).toBe(1)
    parser.feed('\n\ndata: ok\n\n')
    expect(events).toEqual(['ok'])
  })

  test.each<[string, unknown]>([
    ['number', 42],
    ['null', null],
    ['undefined', undefined],
    ['object', { length: 1 }],
    ['ArrayBuffer', new ArrayBuffer(4)],
    ['array of bytes', [0x61, 0x0a]],
    ['Uint16Array', new Uint16Array(2)],
  ])('feed of a %s is a TypeError', (_name, chunk) => {
    const parser = createParser()
    expect(() => parser.feed(chunk as string)).toThrow(TypeError)
  })

  test('a Buffer is a Uint8Array and is accepted', () => {
    expect(dataOf([Buffer.from('data: buf\n\n')])).toEqual(['buf'])
  })

  test('works with no callbacks at all', () => {
    const parser = createParser()
    parser.feed('id: 1\nretry: 5\n: c\ndata: x\n\n')
    expect(parser.lastEventId).toBe('1')
  })
})

// Cases of web-platform-tests' eventsource/format-*.htm, rewritten for the
// parser from the spec (the format-mime-* tests are about clients, not here).
describe('web-platform-tests eventsource/format-*', () => {
  test('format-bom', () => {
    const bom = bytes(0xef, 0xbb, 0xbf)
    const stream = concatBytes(bom, utf8('data:one\n\n'), bom, utf8('data:two\n\ndata:three\n\n'))
    expect(dataOf([stream])).toEqual(['one', 'three'])
  })

  test('format-bom-2', () => {
    const bom = bytes(0xef, 0xbb, 0xbf)
    const stream = concatBytes(bom, bom, utf8('data:one\n\ndata:two\n\ndata:three\n\n'))
    expect(dataOf([stream])).toEqual(['two', 'three'])
  })

  test('format-comments', () => {
    const long = 'y'.repeat(4096)
    const stream =
      `data:a\r:\0\n:\r\ndata:b\n:${long}\rdata:c\n:data:nope\r:${long}\ndata:d\n` + '\n'
    const parsed = parseChunks([stream])
    expect(parsed.events).toEqual([ev('a\nb\nc\nd')])
    expect(parsed.comments).toEqual(['\0', '', long, 'data:nope', long])
  })

  test('format-data-before-final-empty-line', () => {
    const stream = 'retry:1000\ndata:first\n\nid:x\ndata:second'
    const parser = createParser()
    const events: ParsedEvent[] = []
    const replay = createParser({ onEvent: (e) => events.push(e) })
    parser.feed(stream)
    expect(parser.lastEventId).toBe('')
    // The stream ends; a reconnect gets the same body again.
    replay.feed(stream)
    replay.reset()
    replay.feed(stream)
    expect(events).toEqual([ev('first'), ev('first')])
  })

  test('format-field-data', () => {
    expect(eventsOf('data:\n\ndata\ndata\n\ndata:end\n\n')).toEqual([ev(''), ev('\n'), ev('end')])
  })

  test('format-field-event-empty', () => {
    expect(eventsOf('event: \ndata:payload\n\n')).toEqual([ev('payload', 'message')])
  })

  test('format-field-event', () => {
    expect(eventsOf('event:custom\ndata:a\n\ndata:b\n\n')).toEqual([
      ev('a', 'custom'),
      ev('b', 'message'),
    ])
  })

  test('format-field-id', () => {
    const parser = createParser()
    parser.feed('id: 42\nretry: 1000\ndata: x\n\n')
    expect(parser.lastEventId).toBe('42')
    // What a reconnecting client sends as Last-Event-ID.
    parser.reset()
    expect(parser.lastEventId).toBe('42')
  })

  test('format-field-id-2', () => {
    const events: ParsedEvent[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    for (const chunk of splitBySizes(utf8('id: …\ndata: hello\n\ndata: again\n\n'), [1])) {
      parser.feed(chunk)
    }
    parser.reset()
    parser.feed('data: reconnected\n\n')
    expect(events).toEqual([
      ev('hello', 'message', '…'),
      ev('again', 'message', '…'),
      ev('reconnected', 'message', '…'),
    ])
  })

  test('format-field-id-3', () => {
    const ids = (stream: string): string[] => eventsOf(stream).map((e) => e.lastEventId)
    // persists
    expect(ids('id: a\ndata: 1\n\ndata:2\n\n')).toEqual(['a', 'a'])
    // changes and persists
    expect(ids('id: a\ndata: 1\n\nid: b\ndata:2\n\ndata:3\n\n')).toEqual(['a', 'b', 'b'])
    // resets, with and without a colon
    expect(ids('id: a\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n')).toEqual(['a', '', ''])
    expect(ids('id: a\ndata: 1\n\nid\ndata:2\n\ndata:3\n\n')).toEqual(['a', '', ''])
  })

  test.each(['\0\0', '\0x', 'x\0', 'x\0x', ' \0'])('format-field-id-null (%j)', (value) => {
    const parsed = parseChunks([`id: keep\ndata: a\n\nid:${value}\ndata: b\n\n`])
    expect(parsed.events).toEqual([ev('a', 'message', 'keep'), ev('b', 'message', 'keep')])
    expect(parsed.lastEventId).toBe('keep')
  })

  test('format-field-parsing', () => {
    const stream =
      'data:\0x\n' + // kept: NUL is an ordinary character
      'data:   3sp\r' + // one space stripped, two kept
      'DATA:no\n' + // names are case-sensitive
      'data\0:no\n' + // the name is "data\0"
      'data:y\r' +
      '\0data:no\n' +
      'd-ata:no\r' +
      'data-\n' +
      'data:z\r' +
      'data:\r\n' + // empty value
      ' data:no\n' + // the name is " data"
      'data:end\n' +
      '\n'
    expect(eventsOf(stream)).toEqual([ev('\0x\n  3sp\ny\nz\n\nend')])
  })

  test('format-field-retry-bogus', () => {
    const parsed = parseChunks(['retry:2500\nretry:2500x\ndata:x\n\n'])
    expect(parsed.retries).toEqual([2500])
    expect(parsed.events).toEqual([ev('x')])
  })

  test('format-field-retry-empty', () => {
    const parsed = parseChunks(['retry:1234\n\nretry\nretry:\ndata:ok\n\n'])
    expect(parsed.retries).toEqual([1234])
    expect(parsed.events).toEqual([ev('ok')])
  })

  test('format-field-retry', () => {
    const parsed = parseChunks(['retry:00250\ndata:x\n\n'])
    expect(parsed.retries).toEqual([250])
    expect(parsed.events).toEqual([ev('x')])
  })

  test('format-field-unknown', () => {
    expect(eventsOf('data:a\n data\ndata\nfoo:bar\nnocolonline\n:comment\ndata:b\n\n')).toEqual([
      ev('a\n\nb'),
    ])
  })

  test('format-leading-space', () => {
    expect(eventsOf('data:\tx\rdata: \ndata:  y\n\n')).toEqual([ev('\tx\n\n y')])
  })

  test('format-newlines', () => {
    expect(eventsOf('data:one\r\ndata\rdata:two\n\r\n')).toEqual([ev('one\n\ntwo')])
  })

  test('format-null-character', () => {
    expect(eventsOf('data:\0\n\n\n\n')).toEqual([ev('\0')])
  })

  test('format-utf-8', () => {
    const stream = utf8('data:ünïcödé…😀\n\n')
    expect(dataOf([stream])).toEqual(['ünïcödé…😀'])
    expect(dataOf(splitBySizes(stream, [1]))).toEqual(['ünïcödé…😀'])
  })
})

/** A parser with an 8-character event budget whose onError throws what it is given. */
function parserWithThrowingOnError(events: string[]) {
  return createParser({
    maxEventSize: 8,
    onEvent: (e) => events.push(e.data),
    onError: (error) => {
      throw error
    },
  })
}
