/**
 * Decoding a byte stream's chunks as UTF-8, for the parser.
 *
 * A multi-byte sequence split between two chunks decodes as one character;
 * invalid bytes become U+FFFD, as the spec's UTF-8 decode does; a BOM is
 * left in the text (the parser strips it at the stream's start only, for
 * strings and bytes alike).
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */

// Chunks up to this size that are all ASCII skip the TextDecoder call: that
// call's fixed cost dominates when a network delivers tiny chunks.
const SMALL_CHUNK = 32
// One shared options object: no allocation per decoded chunk.
const STREAM = { stream: true } as const

/** A streaming UTF-8 decoder: chunks in, text out. */
export interface Utf8ChunkDecoder {
  /** Decodes the next chunk; bytes of an unfinished sequence wait for the next one. */
  decode(chunk: Uint8Array): string
  /** Forgets any unfinished sequence (a new stream starts). */
  reset(): void
}

/**
 * Creates a streaming UTF-8 decoder with fast paths for small ASCII chunks
 * and for chunks that split no sequence.
 *
 * @example
 * ```ts
 * const utf8 = createUtf8ChunkDecoder()
 * utf8.decode(new Uint8Array([0xe2, 0x82])) + utf8.decode(new Uint8Array([0xac])) // '€'
 * ```
 */
export function createUtf8ChunkDecoder(): Utf8ChunkDecoder {
  let decoder: TextDecoder | undefined
  // Decodes chunks that need no state from the previous one (see decode).
  let wholeDecoder: TextDecoder | undefined
  let preferWholeDecoder = false
  // True while the decoder may hold the start of a multi-byte sequence.
  let decoderPending = false

  function decode(chunk: Uint8Array): string {
    const n = chunk.length
    // An empty chunk must not touch decoderPending: the decoder may still hold
    // the start of a multi-byte sequence, so the next small ASCII chunk has to
    // go through it (and get its U+FFFD), not around it.
    if (n === 0) return ''
    const last = chunk[n - 1]!
    if (!decoderPending) {
      if (n <= SMALL_CHUNK) {
        let ascii = true
        for (let i = 0; i < n; i++) {
          if (chunk[i]! >= 0x80) {
            ascii = false
            break
          }
        }
        if (ascii) return n === 1 ? String.fromCharCode(chunk[0]!) : String.fromCharCode(...chunk)
      }
      // The streaming decoder holds nothing and the chunk ends in ASCII, so no
      // sequence is split at either end: decoding the chunk on its own gives
      // the same text. Node's TextDecoder takes a much faster native path
      // without `stream: true` (and leaves it for good once `stream` is used,
      // hence a second decoder), but is slower than the streaming one on text
      // that is mostly non-ASCII, so it is used while recent chunks were ASCII.
      if (last < 0x80 && preferWholeDecoder) {
        // ignoreBOM: we strip the BOM ourselves, for strings and bytes alike.
        wholeDecoder ??= new TextDecoder('utf-8', { ignoreBOM: true })
        const text = wholeDecoder.decode(chunk)
        // Equal lengths: (nearly) every byte was ASCII.
        preferWholeDecoder = text.length === n
        return text
      }
    }
    decoder ??= new TextDecoder('utf-8', { ignoreBOM: true })
    decoderPending = last >= 0x80
    const text = decoder.decode(chunk, STREAM)
    preferWholeDecoder = text.length === n
    return text
  }

  return {
    decode,
    reset() {
      decoder = undefined
      decoderPending = false
    },
  }
}
