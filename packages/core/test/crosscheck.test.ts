import { encode, type ParsedEvent, type SseEvent } from '@sse/core'
import { createParser as createReferenceParser } from 'eventsource-parser'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  chunkSizes,
  type Expected,
  ev,
  expectedFor,
  frames,
  parseChunks,
  type RawStream,
  rawStream,
  splitBySizes,
  streamText,
  utf8,
} from './helpers'

// Shared code hides shared bugs: check our encoder and parser against
// eventsource-parser (3.1.1), a parser we did not write. Its two deviations
// from https://html.spec.whatwg.org/multipage/server-sent-events.html ("SPEC"
// below) are excluded from the comparison and pinned at the end of the file.

type Observed = Omit<Expected, 'lastEventId'>

/**
 * Runs eventsource-parser and maps its output to ours. It reports `event`
 * (undefined for "message") and the `id` field of each event's own block
 * (undefined when the block had none), so the last event ID is tracked here.
 */
function parseWithReference(chunks: string[]): Observed {
  const observed: Observed = { events: [], retries: [], comments: [] }
  let lastEventId = ''
  const parser = createReferenceParser({
    onEvent: (message) => {
      if (message.id !== undefined) lastEventId = message.id
      observed.events.push({ type: message.event ?? 'message', data: message.data, lastEventId })
    },
    onRetry: (ms) => observed.retries.push(ms),
    onComment: (comment) => observed.comments.push(comment),
  })
  for (const chunk of chunks) parser.feed(chunk)
  return observed
}

function ours(chunks: Array<string | Uint8Array>): Observed {
  const { events, retries, comments } = parseChunks(chunks)
  return { events, retries, comments }
}

/**
 * Excluded deviation 1 of eventsource-parser: it resets its id at every blank
 * line and reports ids only on dispatched events, so an `id` in a block without
 * data is lost. The spec's "dispatch the event" sets the last event ID string
 * from the last event ID buffer BEFORE it returns for an empty data buffer, and
 * never clears that buffer (SPEC #dispatchMessage, step 1). So we drop valid `id`
 * lines from blocks without a data line; ids with NUL stay (both ignore them).
 * Dropping only ever removes state, so a blank line that vanishes into a CRLF
 * (a CR line end followed by an empty LF line) cannot make this unsafe.
 */
function withoutIdOnlyBlocks(stream: RawStream): RawStream {
  const keep: boolean[] = []
  let block: number[] = []
  let blockHasData = false
  const close = (): void => {
    for (const i of block) {
      const l = stream.lines[i]!
      keep[i] = !(l.kind === 'id' && l.validId && !blockHasData)
    }
    block = []
    blockHasData = false
  }
  stream.lines.forEach((l, i) => {
    if (l.kind === 'blank') {
      keep[i] = true
      close()
      return
    }
    block.push(i)
    if (l.kind === 'data') blockHasData = true
  })
  close()
  return { bom: stream.bom, lines: stream.lines.filter((_, i) => keep[i]) }
}

/**
 * The chunks eventsource-parser is fed for a stream we parse as-is.
 * - A leading U+FEFF is removed: it takes decoded text, and the decoder in
 *   front of it (TextDecoderStream) strips the BOM. Not a deviation.
 * - Excluded deviation 2: when a chunk ends in CR it holds that line back,
 *   waiting for a possible LF, and looks at it again only when a later chunk
 *   contains a CR or LF; if the stream ends first, the line is never
 *   processed (a blank line written as CR CR at the end never dispatches).
 *   In the spec a lone CR is a complete line end (SPEC #parsing-an-event-stream:
 *   "end-of-line = ( cr lf / cr / lf )"). So no chunk given to it ends in CR
 *   (the CR moves to the next chunk), and an input ending in CR gets an LF:
 *   CRLF means the same as CR to a spec parser.
 */
function referenceChunks(text: string, sizes: readonly number[]): string[] {
  const input = text.startsWith('\uFEFF') ? text.slice(1) : text
  const split = splitBySizes(input, sizes)
  const chunks: string[] = []
  let carry = ''
  split.forEach((piece, i) => {
    let chunk = carry + piece
    carry = ''
    if (i < split.length - 1 && chunk.endsWith('\r')) {
      carry = '\r'
      chunk = chunk.slice(0, -1)
    }
    if (chunk !== '') chunks.push(chunk)
  })
  const last = chunks.length - 1
  if (last >= 0 && chunks[last]!.endsWith('\r')) chunks[last] += '\n'
  return chunks
}

describe('our encoder, parsed by eventsource-parser', () => {
  test.each<[string, SseEvent[]]>([
    ['data only', [{ data: 'hello' }]],
    ['every field', [{ event: 'e', id: '1', retry: 10, comment: 'c', data: 'd' }]],
    ['line breaks of every kind', [{ data: 'a\r\nb\rc\nd\n' }, { data: '' }]],
    [
      'id persists, empty id resets',
      [{ id: '7', data: 'a' }, { data: 'b' }, { id: '', data: 'c' }],
    ],
    ['multi-line comment', [{ comment: 'x\r\ny' }, { data: 'z' }]],
  ])('%s', (_name, events) => {
    const stream = events.map(encode).join('')
    const { lastEventId: _, ...expected } = expectedFor(events, (s) => s)
    expect(parseWithReference([stream])).toEqual(expected)
  })

  test('arbitrary frames under arbitrary chunking give the same events', () => {
    fc.assert(
      fc.property(frames, chunkSizes, (generated, sizes) => {
        // Deviation 1 (see withoutIdOnlyBlocks): an id-only frame updates the
        // last event ID in the spec, but eventsource-parser never reports it.
        const events = generated.map((e) => {
          if (e.data !== undefined || e.id === undefined) return e
          const { id: _, ...rest } = e
          return rest
        })
        const stream = events.map(encode).join('')
        const { lastEventId: _, ...expected } = expectedFor(events, (s) => s)
        expect(parseWithReference(splitBySizes(stream, sizes))).toEqual(expected)
      }),
      { numRuns: 400 },
    )
  })
})

describe('our parser and eventsource-parser agree on random streams', () => {
  test('same events, retries and comments under independent random chunking', () => {
    fc.assert(
      fc.property(rawStream, chunkSizes, chunkSizes, (generated, ourSizes, theirSizes) => {
        const text = streamText(withoutIdOnlyBlocks(generated))
        const mine = ours(splitBySizes(utf8(text), ourSizes))
        expect(parseWithReference(referenceChunks(text, theirSizes))).toEqual(mine)
        // The comparison is not vacuous: our string path agrees as well.
        expect(ours(splitBySizes(text, theirSizes))).toEqual(mine)
      }),
      { numRuns: 500 },
    )
  })

  test('the generated streams exercise what they should', () => {
    // Guards the generator: if it stopped producing events with ids, types,
    // retries and comments, the comparison above would prove little.
    let events = 0
    let withId = 0
    let withType = 0
    let retries = 0
    let comments = 0
    fc.assert(
      fc.property(rawStream, (generated) => {
        const parsed = ours([streamText(withoutIdOnlyBlocks(generated))])
        events += parsed.events.length
        withId += parsed.events.filter((e) => e.lastEventId !== '').length
        withType += parsed.events.filter((e) => e.type !== 'message').length
        retries += parsed.retries.length
        comments += parsed.comments.length
      }),
      { numRuns: 200, seed: 42 },
    )
    expect(events).toBeGreaterThan(150)
    expect(withId).toBeGreaterThan(40)
    expect(withType).toBeGreaterThan(30)
    expect(retries).toBeGreaterThan(30)
    expect(comments).toBeGreaterThan(100)
  })
})

// The two excluded cases, pinned: ours follows the spec, eventsource-parser
// 3.1.1 does not. If an upgrade fixes them, these fail and the exclusions
// above can go.
describe('excluded eventsource-parser deviations', () => {
  test('deviation 1: an id-only block updates the last event ID', () => {
    const stream = 'id: 5\n\ndata: x\n\n'
    expect(ours([stream]).events).toEqual([ev('x', 'message', '5')])
    expect(parseWithReference([stream]).events).toEqual([ev('x', 'message', '')])
  })

  test('deviation 2: a line ended by a CR at the end of a chunk is processed late or never', () => {
    expect(ours(['data: x\r\r']).events).toEqual([ev('x')])
    expect(parseWithReference(['data: x\r\r']).events).toEqual([] satisfies ParsedEvent[])
    // Still nothing after more chunks, as long as none has a line end.
    expect(ours(['data: x\r\r', 'id: 1']).events).toEqual([ev('x')])
    expect(parseWithReference(['data: x\r\r', 'id: 1']).events).toEqual([] satisfies ParsedEvent[])
    expect(ours([': c\r', 'x']).comments).toEqual(['c'])
    expect(parseWithReference([': c\r', 'x']).comments).toEqual([])
    // The adjusted input gives the spec's result.
    expect(parseWithReference(referenceChunks('data: x\r\r', [8, 1])).events).toEqual([ev('x')])
  })
})
