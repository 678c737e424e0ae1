import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { createUtf8ChunkDecoder } from '../src/utf8-decoder'
import { chunkSizes, splitBySizes } from './helpers'

// The whole stream in one streaming call: an unfinished sequence at the end
// stays pending (the stream has not ended), as it does for the chunks.
const whole = (bytes: Uint8Array): string =>
  new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes, { stream: true })

function decodeChunks(chunks: Uint8Array[]): string {
  const utf8 = createUtf8ChunkDecoder()
  return chunks.map((chunk) => utf8.decode(chunk)).join('')
}

// Bytes that hit every path: ASCII runs (small-chunk and whole-decoder fast
// paths), multi-byte sequences split anywhere, and invalid bytes.
const mixedBytes = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 8 }).map((text) => new TextEncoder().encode(text)),
      fc
        .constantFrom('a'.repeat(40), 'data: x\n', '\ufeff')
        .map((t) => new TextEncoder().encode(t)),
      fc.uint8Array({ maxLength: 4 }),
    ),
    { maxLength: 30 },
  )
  .map((parts) => Uint8Array.from(parts.flatMap((part) => [...part])))

describe('createUtf8ChunkDecoder', () => {
  test('any bytes split anywhere decode exactly as the whole stream does', () => {
    fc.assert(
      fc.property(mixedBytes, chunkSizes, (bytes, sizes) => {
        expect(decodeChunks(splitBySizes(bytes, sizes))).toBe(whole(bytes))
      }),
      { numRuns: 2000 },
    )
  })

  test('a sequence split over three chunks is one character; an empty chunk changes nothing', () => {
    const euro = [0xe2, 0x82, 0xac]
    const chunks = [[0xe2], [], [0x82], [0xac, 0x61]].map((c) => Uint8Array.from(c))
    expect(decodeChunks(chunks)).toBe('€a')
    expect(decodeChunks([Uint8Array.from(euro)])).toBe('€')
  })

  test('an unfinished sequence followed by a small ASCII chunk is U+FFFD, not dropped', () => {
    const chunks = [Uint8Array.of(0xe2, 0x82), new Uint8Array(0), Uint8Array.of(0x61)]
    expect(decodeChunks(chunks)).toBe('\ufffda')
  })

  test('the BOM is kept (the parser strips it at the start of the stream only)', () => {
    expect(decodeChunks([Uint8Array.of(0xef, 0xbb, 0xbf, 0x61)])).toBe('\ufeffa')
  })

  test('reset forgets an unfinished sequence', () => {
    const utf8 = createUtf8ChunkDecoder()
    expect(utf8.decode(Uint8Array.of(0xe2, 0x82))).toBe('')
    utf8.reset()
    expect(utf8.decode(Uint8Array.of(0x61))).toBe('a')
  })
})
