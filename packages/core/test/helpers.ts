import { createParser, type ParsedEvent, type SseError, type SseEvent } from '@sse/core'
import fc from 'fast-check'

/** Everything a parser reported, in order and per kind. */
export interface Parsed {
  /** Every callback in arrival order, for comparisons that care about ordering. */
  log: Array<
    | readonly ['event', ParsedEvent]
    | readonly ['retry', number]
    | readonly ['comment', string]
    | readonly ['error', string]
  >
  events: ParsedEvent[]
  retries: number[]
  comments: string[]
  errors: SseError[]
  /** `parser.lastEventId` after the last chunk. */
  lastEventId: string
}

/** Feeds `chunks` to a fresh parser and records every callback. */
export function parseChunks(
  chunks: Iterable<string | Uint8Array>,
  options: { maxEventSize?: number } = {},
): Parsed {
  const parsed: Parsed = {
    log: [],
    events: [],
    retries: [],
    comments: [],
    errors: [],
    lastEventId: '',
  }
  const parser = createParser({
    ...options,
    onEvent: (event) => {
      parsed.log.push(['event', event])
      parsed.events.push(event)
    },
    onRetry: (ms) => {
      parsed.log.push(['retry', ms])
      parsed.retries.push(ms)
    },
    onComment: (comment) => {
      parsed.log.push(['comment', comment])
      parsed.comments.push(comment)
    },
    onError: (error) => {
      parsed.log.push(['error', error.code])
      parsed.errors.push(error)
    },
  })
  for (const chunk of chunks) parser.feed(chunk)
  parsed.lastEventId = parser.lastEventId
  return parsed
}

/** Shorthand for the dispatched events of one whole string. */
export function eventsOf(stream: string): ParsedEvent[] {
  return parseChunks([stream]).events
}

/** A `ParsedEvent` literal with the defaults the spec gives. */
export function ev(data: string, type = 'message', lastEventId = ''): ParsedEvent {
  return { type, data, lastEventId }
}

const textEncoder = new TextEncoder()
// ignoreBOM: a U+FEFF inside a value must survive the round trip.
const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true })

export function utf8(text: string): Uint8Array {
  return textEncoder.encode(text)
}

/** What `text` becomes after a trip through UTF-8: lone surrogates turn into U+FFFD. */
export function viaUtf8(text: string): string {
  return textDecoder.decode(textEncoder.encode(text))
}

export function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values)
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Cuts `input` into chunks whose sizes cycle through `sizes` (each >= 1). */
export function splitBySizes(input: string, sizes: readonly number[]): string[]
export function splitBySizes(input: Uint8Array, sizes: readonly number[]): Uint8Array[]
export function splitBySizes(
  input: string | Uint8Array,
  sizes: readonly number[],
): Array<string | Uint8Array> {
  const chunks: Array<string | Uint8Array> = []
  let pos = 0
  let i = 0
  while (pos < input.length) {
    const end = pos + sizes[i++ % sizes.length]!
    chunks.push(typeof input === 'string' ? input.slice(pos, end) : input.subarray(pos, end))
    pos = end
  }
  return chunks
}

/** Chunk-size patterns: one unit at a time, everything at once, and random mixes. */
export const chunkSizes: fc.Arbitrary<number[]> = fc.oneof(
  fc.constant<number[]>([1]),
  fc.constant<number[]>([Number.MAX_SAFE_INTEGER]),
  fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 10 }),
)

// --- text ------------------------------------------------------------------

const hasBreak = (s: string): boolean => s.includes('\r') || s.includes('\n')

export const lineBreak: fc.Arbitrary<string> = fc.constantFrom('\r', '\n', '\r\n')

/** Characters that have tripped SSE implementations, plus any code point at all. */
const trickyUnit: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '\0',
    ':',
    ' ',
    '\t',
    '\uFEFF',
    'é',
    '€',
    '😀',
    '\u{10FFFF}',
    '\u2028',
    '\u0085',
    'data',
    'x',
  ),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  // Lone surrogates: fine in a string, U+FFFD after UTF-8.
  fc.constantFrom('\uD83D', '\uDE00', '\uDBFF', '\uDC00'),
)

/** Any text: line breaks of every kind, NUL, astral and lone surrogates, or empty. */
export const anyText: fc.Arbitrary<string> = fc.string({
  unit: fc.oneof({ weight: 4, arbitrary: trickyUnit }, { weight: 1, arbitrary: lineBreak }),
  maxLength: 24,
})

/** Text that is valid as an `event` name: no CR or LF. */
export const singleLineText: fc.Arbitrary<string> = fc.string({
  unit: trickyUnit.filter((u) => !hasBreak(u)),
  maxLength: 12,
})

/** Text that is valid as an `id`: no CR, LF or NUL. */
export const idText: fc.Arbitrary<string> = fc.string({
  unit: trickyUnit.filter((u) => !hasBreak(u) && !u.includes('\0')),
  maxLength: 12,
})

// --- events ----------------------------------------------------------------

/** Any event `encode` accepts, each field present or not. */
export const sseEvent: fc.Arbitrary<SseEvent> = fc.record(
  {
    data: anyText,
    event: singleLineText,
    id: idText,
    retry: fc.oneof(fc.nat(), fc.constant(0), fc.constant(Number.MAX_SAFE_INTEGER)),
    comment: anyText,
  },
  { requiredKeys: [] },
)
// Mostly events with data, so that most frames dispatch.
export const frames: fc.Arbitrary<SseEvent[]> = fc.array(
  fc.oneof({ weight: 3, arbitrary: sseEvent.map((e) => ({ data: '', ...e })) }, sseEvent),
  { maxLength: 8 },
)

export interface Expected {
  events: ParsedEvent[]
  retries: number[]
  comments: string[]
  lastEventId: string
}

/**
 * What a spec-conforming client sees for these frames: line breaks in data
 * come back as LF, an `id` (with or without data) sets the last event ID,
 * a missing or empty `event` is "message". `text` maps every string the way
 * the transport does (identity for strings, through UTF-8 for bytes).
 */
export function expectedFor(events: SseEvent[], text: (s: string) => string): Expected {
  const expected: Expected = { events: [], retries: [], comments: [], lastEventId: '' }
  for (const e of events) {
    if (e.comment !== undefined) expected.comments.push(...text(e.comment).split(/\r\n|\r|\n/))
    if (e.retry !== undefined) expected.retries.push(e.retry)
    if (e.id !== undefined) expected.lastEventId = text(e.id)
    if (e.data !== undefined) {
      expected.events.push({
        type: e.event ? text(e.event) : 'message',
        data: text(e.data).replace(/\r\n|\r/g, '\n'),
        lastEventId: expected.lastEventId,
      })
    }
  }
  return expected
}

// --- raw streams -------------------------------------------------------------

/** One generated line of a raw stream. */
export interface StreamLine {
  /** The line without its line end. */
  text: string
  /** `CR`, `LF` or `CRLF`; empty only for an unterminated last line. */
  end: string
  /** `data` for a data field, `id` for an id field, `blank` for an empty line. */
  kind: 'data' | 'id' | 'blank' | 'other'
  /** For `id` lines: false when the value has a NUL (the spec ignores those). */
  validId: boolean
}

export interface RawStream {
  /** Whether the stream starts with a U+FEFF BOM. */
  bom: boolean
  lines: StreamLine[]
}

/** The stream as one string. */
export function streamText(stream: RawStream): string {
  let text = stream.bom ? '\uFEFF' : ''
  for (const l of stream.lines) text += l.text + l.end
  return text
}

const separator = fc.constantFrom(':', ': ', ':  ', ':\t')
// Well-formed values without CR/LF (so that the bytes path loses nothing).
const valueText = fc.string({
  unit: fc.constantFrom('a', 'b', '1', '0', ' ', ':', '\0', 'é', '€', '😀', '\uFEFF', 'data'),
  maxLength: 8,
})
type LineShape = Omit<StreamLine, 'end'>
const line = (kind: StreamLine['kind'], text: string, validId = true): LineShape => ({
  kind,
  text,
  validId,
})

const streamLine: fc.Arbitrary<LineShape> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(line('blank', '')) },
  {
    weight: 5,
    arbitrary: fc.tuple(separator, valueText).map(([sep, v]) => line('data', 'data' + sep + v)),
  },
  { weight: 1, arbitrary: fc.constant(line('data', 'data')) },
  {
    weight: 2,
    arbitrary: fc.tuple(separator, valueText).map(([sep, v]) => line('other', 'event' + sep + v)),
  },
  { weight: 1, arbitrary: fc.constant(line('other', 'event')) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(separator, valueText)
      .map(([sep, v]) => line('id', 'id' + sep + v, !v.includes('\0'))),
  },
  { weight: 1, arbitrary: fc.constant(line('id', 'id')) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        separator,
        fc.oneof(
          fc.nat({ max: 100_000 }).map(String),
          fc.constantFrom('0042', '1e3', ' 1000', '-1', '1.5', '', 'abc', '１２', '10 ', '0x10'),
        ),
      )
      .map(([sep, v]) => line('other', 'retry' + sep + v)),
  },
  { weight: 1, arbitrary: fc.constant(line('other', 'retry')) },
  { weight: 2, arbitrary: valueText.map((v) => line('other', ':' + v)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          'foo',
          'Data',
          'data ',
          ' data',
          'dat',
          'ids',
          'i',
          'Event',
          'retryx',
          'da-ta',
          // One letter off at each place the parser checks by hand.
          'xata',
          'dxta',
          'daxa',
          'datx',
          'ix',
          'xd',
          'xvent',
          'exent',
          'evxnt',
          'evext',
          'evenx',
        ),
        fc.option(fc.tuple(separator, valueText), { nil: undefined }),
      )
      .map(([name, rest]) => line('other', rest === undefined ? name : name + rest[0] + rest[1])),
  },
)

/**
 * Random `text/event-stream` bodies from a grammar of lines: data, event, id
 * (sometimes with NUL), retry (valid and bogus), comments, unknown and
 * colon-less fields, blank lines, each ended by CR, LF or CRLF; sometimes a
 * leading BOM, and sometimes a last line with no line end at all.
 */
export const rawStream: fc.Arbitrary<RawStream> = fc
  .tuple(
    fc.array(fc.tuple(streamLine, lineBreak), { maxLength: 32, size: 'max' }),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([pairs, bom, endsOpen]) => ({
    bom,
    lines: pairs.map(([l, end], i) => ({
      ...l,
      end: endsOpen && i === pairs.length - 1 ? '' : end,
    })),
  }))
