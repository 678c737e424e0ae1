import { encode, encodeBytes, SseError, type SseEvent } from '@sse/core'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  anyText,
  chunkSizes,
  concatBytes,
  type Expected,
  expectedFor,
  frames,
  idText,
  lineBreak,
  parseChunks,
  rawStream,
  singleLineText,
  splitBySizes,
  streamText,
  utf8,
  viaUtf8,
} from './helpers'

const NUM_RUNS = 400

function actual(chunks: Array<string | Uint8Array>): Expected {
  const { events, retries, comments, lastEventId } = parseChunks(chunks)
  return { events, retries, comments, lastEventId }
}

describe('parse(encode(events)) round trip', () => {
  test('as strings under arbitrary chunking', () => {
    fc.assert(
      fc.property(frames, chunkSizes, (events, sizes) => {
        const stream = events.map(encode).join('')
        expect(actual(splitBySizes(stream, sizes))).toEqual(expectedFor(events, (s) => s))
      }),
      { numRuns: NUM_RUNS },
    )
  })

  test('as UTF-8 bytes under arbitrary chunking, including 1-byte chunks', () => {
    fc.assert(
      fc.property(frames, chunkSizes, (events, sizes) => {
        const stream = concatBytes(...events.map(encodeBytes))
        // Lone surrogates cannot survive UTF-8: they come back as U+FFFD.
        expect(actual(splitBySizes(stream, sizes))).toEqual(expectedFor(events, viaUtf8))
      }),
      { numRuns: NUM_RUNS },
    )
  })

  test('byte by byte, with well-formed text only', () => {
    fc.assert(
      fc.property(frames, (events) => {
        const wellFormed = events.map((e) => mapStrings(e, viaUtf8))
        const stream = utf8(wellFormed.map(encode).join(''))
        expect(actual(splitBySizes(stream, [1]))).toEqual(expectedFor(wellFormed, (s) => s))
      }),
      { numRuns: NUM_RUNS },
    )
  })
})

describe('encoder rejects what would change the stream', () => {
  const withBreak = fc
    .tuple(singleLineText, lineBreak, anyText)
    .map(([before, br, after]) => before + br + after)

  test('an event name with CR or LF never produces a frame', () => {
    fc.assert(
      fc.property(withBreak, fc.option(anyText, { nil: undefined }), (event, data) => {
        const frame: SseEvent = data === undefined ? { event } : { event, data }
        expect(() => encode(frame)).toThrow(SseError)
        expect(() => encodeBytes(frame)).toThrow(SseError)
        try {
          encode(frame)
        } catch (error) {
          expect(error).toMatchObject({ code: 'SSE_INVALID_FIELD', field: 'event' })
        }
      }),
      { numRuns: NUM_RUNS },
    )
  })

  test('an id with CR, LF or NUL never produces a frame', () => {
    const badId = fc.oneof(
      withBreak,
      fc.tuple(idText, idText).map(([before, after]) => before + '\0' + after),
    )
    fc.assert(
      fc.property(badId, fc.option(anyText, { nil: undefined }), (id, data) => {
        const frame: SseEvent = data === undefined ? { id } : { id, data }
        expect(() => encode(frame)).toThrow(SseError)
        try {
          encode(frame)
        } catch (error) {
          expect(error).toMatchObject({ code: 'SSE_INVALID_FIELD', field: 'id' })
        }
      }),
      { numRuns: NUM_RUNS },
    )
  })

  test('a retry that is not a non-negative safe integer never produces a frame', () => {
    const badRetry = fc.oneof(
      fc.integer({ max: -1 }),
      fc.double().filter((n) => !Number.isSafeInteger(n) || n < 0),
    )
    fc.assert(
      fc.property(badRetry, (retry) => {
        expect(() => encode({ retry, data: 'x' })).toThrow(SseError)
      }),
      { numRuns: NUM_RUNS },
    )
  })
})

describe('the parser does not care how the stream is chunked', () => {
  test.each([undefined, 12, 40])('maxEventSize %s: strings and bytes', (maxEventSize) => {
    const options = maxEventSize === undefined ? {} : { maxEventSize }
    fc.assert(
      fc.property(rawStream, chunkSizes, chunkSizes, (stream, stringSizes, byteSizes) => {
        const text = streamText(stream)
        const whole = parseChunks([text], options)
        expect(parseChunks(splitBySizes(text, stringSizes), options)).toEqual(whole)
        expect(parseChunks(splitBySizes(utf8(text), byteSizes), options)).toEqual(whole)
      }),
      { numRuns: 250 },
    )
  })
})

function mapStrings(e: SseEvent, f: (s: string) => string): SseEvent {
  const out: SseEvent = {}
  if (e.data !== undefined) out.data = f(e.data)
  if (e.event !== undefined) out.event = f(e.event)
  if (e.id !== undefined) out.id = f(e.id)
  if (e.retry !== undefined) out.retry = e.retry
  if (e.comment !== undefined) out.comment = f(e.comment)
  return out
}
