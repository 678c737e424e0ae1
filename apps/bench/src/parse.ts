/**
 * Question: how fast does our parser turn a `text/event-stream` into events,
 * compared with eventsource-parser, when the stream arrives whole, in 64 KiB,
 * in 1 KiB and in 1-byte chunks?
 *
 * Two views:
 * - bytes: chunks are `Uint8Array`s, as from a socket. Ours decodes UTF-8
 *   itself. eventsource-parser only takes strings, so it gets a streaming
 *   `TextDecoder` in front, as its README's `.pipeThrough(new TextDecoderStream())`
 *   does; that decode time is part of its row.
 * - strings: both get the same chunks already decoded, so only parsing is timed.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { createParser } from '@sse/core'
import { createParser as createEsParser3 } from 'eventsource-parser'
import { compare, formatRatio, type Row, seededRandom, spread, type Task } from './measure'

type CreateEsParser = typeof createEsParser3

/**
 * eventsource-parser's newest 4.x declares Node >= 22.12, so it is measured
 * only there: `pnpm bench --node 24` installs it outside the workspace and
 * names its directory in `SSE_BENCH_ESP4`. 3.1.1 (the workspace's) runs on
 * every Node.
 */
const newest: { version: string; createParser: CreateEsParser } | undefined = (() => {
  const dir = process.env.SSE_BENCH_ESP4
  if (dir === undefined) return undefined
  const load = createRequire(join(dir, 'package.json'))
  const { version } = JSON.parse(
    readFileSync(join(dir, 'node_modules', 'eventsource-parser', 'package.json'), 'utf8'),
  ) as { version: string }
  const { createParser } = load('eventsource-parser') as { createParser: CreateEsParser }
  return { version, createParser }
})()

export const question = 'parse'

const CORPUS_BYTES = 6 * 1024 * 1024
// 1-byte chunks cost one call per byte for both parsers: a smaller slice keeps
// the run short, and MB/s stays comparable with the other rows.
const SLICE_BYTES = 256 * 1024

export interface Corpus {
  bytes: Uint8Array
  /** Events a spec-following parser dispatches. */
  events: number
  /** Sum of `data.length` over those events, a second check on what was parsed. */
  dataChars: number
}

const EVENT_NAMES = ['update', 'price', 'message.created', 'presence']
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'sse', 'stream', 'token', 'ok', 'ready']
// About 5% of JSON events carry non-ASCII text, so the UTF-8 decode is real
// work, 1-byte chunks split multi-byte characters, and (as on a real socket)
// some decoded chunks are one-byte strings and others two-byte strings in V8.
const UNICODE = ['café', 'naïve', '日本語', 'Ωmega', '✓ done', '🚀 launch']

/**
 * Builds a deterministic stream of about `CORPUS_BYTES` and, at the first
 * frame boundary past `SLICE_BYTES`, a prefix for the 1-byte rows.
 */
export function buildCorpus(): { whole: Corpus; slice: Corpus } {
  const random = seededRandom(0x5ee)
  const int = (n: number) => Math.floor(random() * n)
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!
  const encoder = new TextEncoder()

  const frames: string[] = []
  let bytes = 0
  let events = 0
  let dataChars = 0
  let slice: Omit<Corpus, 'bytes'> & { byteLength: number } = {
    byteLength: 0,
    events: 0,
    dataChars: 0,
  }
  let seq = 1000

  while (bytes < CORPUS_BYTES) {
    const kind = random()
    let frame: string
    if (kind < 0.55) {
      // A typical JSON event with id and name, about 90-130 bytes of data.
      const payload = {
        id: seq,
        user: `user-${int(10_000)}`,
        ts: 1_700_000_000_000 + seq * 37,
        value: Math.round(random() * 1e6) / 100,
        tags: Array.from({ length: 1 + int(4) }, () => pick(WORDS)),
        text: random() < 0.05 ? pick(UNICODE) : pick(WORDS),
      }
      const data = JSON.stringify(payload)
      // Now and then a retry rides along with an event.
      const retry = random() < 0.02 ? `retry: ${1000 + int(9000)}\n` : ''
      frame = `id: ${seq}\nevent: ${pick(EVENT_NAMES)}\n${retry}data: ${data}\n\n`
      events++
      dataChars += data.length
    } else if (kind < 0.75) {
      // A multi-line data event, 3-10 lines.
      const lines = Array.from(
        { length: 3 + int(8) },
        (_, i) => `${i}: ${Array.from({ length: 1 + int(8) }, () => pick(WORDS)).join(' ')}`,
      )
      frame = `event: log\ndata: ${lines.join('\ndata: ')}\n\n`
      events++
      dataChars += lines.join('\n').length
    } else if (kind < 0.9) {
      // Heartbeat comments; no event.
      frame = random() < 0.5 ? ': ping\n\n' : ':\n\n'
    } else if (kind < 0.97) {
      // An id alone moves the last event ID; no event.
      frame = `id: ${seq}\n\n`
    } else {
      frame = `retry: ${1000 + int(9000)}\n\n`
    }
    seq++
    frames.push(frame)
    bytes += encoder.encode(frame).length
    if (slice.byteLength === 0 && bytes >= SLICE_BYTES)
      slice = { byteLength: bytes, events, dataChars }
  }

  const all = encoder.encode(frames.join(''))
  if (all.length !== bytes) throw new Error('corpus: byte count mismatch')
  return {
    whole: { bytes: all, events, dataChars },
    slice: {
      bytes: all.subarray(0, slice.byteLength),
      events: slice.events,
      dataChars: slice.dataChars,
    },
  }
}

/** Views of `bytes`, `size` bytes each (the last may be shorter), as a socket delivers them. */
function chunkBytes(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = []
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size))
  return chunks
}

/** The same chunks decoded ahead of time (a split character lands in the next string). */
function decodeChunks(chunks: readonly Uint8Array[]): string[] {
  const decoder = new TextDecoder()
  return chunks.map((chunk) => decoder.decode(chunk, { stream: true }))
}

function ours(chunks: readonly (string | Uint8Array)[], corpus: Corpus): () => number {
  return () => {
    let events = 0
    let chars = 0
    const parser = createParser({
      onEvent(event) {
        events++
        chars += event.data.length
      },
    })
    for (let i = 0; i < chunks.length; i++) parser.feed(chunks[i]!)
    if (chars !== corpus.dataChars)
      throw new Error(`ours: ${chars} data chars, want ${corpus.dataChars}`)
    return events
  }
}

function eventsourceParser(
  chunks: readonly (string | Uint8Array)[],
  corpus: Corpus,
  input: 'bytes' | 'strings',
  createEsParser: CreateEsParser,
): () => number {
  return () => {
    let events = 0
    let chars = 0
    const parser = createEsParser({
      onEvent(event) {
        events++
        chars += event.data.length
      },
    })
    if (input === 'bytes') {
      // One decoder per stream, as TextDecoderStream keeps one.
      const decoder = new TextDecoder()
      for (let i = 0; i < chunks.length; i++) {
        parser.feed(decoder.decode(chunks[i] as Uint8Array, { stream: true }))
      }
    } else {
      for (let i = 0; i < chunks.length; i++) parser.feed(chunks[i] as string)
    }
    if (chars !== corpus.dataChars) {
      throw new Error(`eventsource-parser: ${chars} data chars, want ${corpus.dataChars}`)
    }
    return events
  }
}

/**
 * Before timing, both parsers must give the same events in the same order for
 * exactly the chunks the case feeds (and no other input, so the JIT learns
 * nothing a case does not do).
 */
function crossCheck(
  chunks: readonly (string | Uint8Array)[],
  corpus: Corpus,
  input: 'bytes' | 'strings',
): void {
  const a: string[] = []
  const b: string[] = []
  const mine = createParser({ onEvent: (e) => a.push(e.type, e.data) })
  const theirs = createEsParser3({ onEvent: (e) => b.push(e.event ?? 'message', e.data) })
  const decoder = new TextDecoder()
  for (const chunk of chunks) {
    mine.feed(chunk)
    theirs.feed(
      input === 'bytes' ? decoder.decode(chunk as Uint8Array, { stream: true }) : (chunk as string),
    )
  }
  if (a.length !== corpus.events * 2 || a.length !== b.length || a.some((v, i) => v !== b[i])) {
    throw new Error('parse: the two parsers disagree on the corpus')
  }
}

const INPUTS = ['bytes', 'strings'] as const
const CHUNKINGS = {
  whole: { label: 'whole', size: Number.POSITIVE_INFINITY, slice: false },
  '64k': { label: '64 KiB chunks', size: 64 * 1024, slice: false },
  '1k': { label: '1 KiB chunks', size: 1024, slice: false },
  '1b': { label: '1-byte chunks', size: 1, slice: true },
} as const

/** `bytes/64k`, `strings/1b`, …: each is measured in a fresh process. */
export const cases: readonly string[] = INPUTS.flatMap((input) =>
  Object.keys(CHUNKINGS).map((chunking) => `${input}/${chunking}`),
)

export async function run(name: string): Promise<Row[]> {
  const [input, chunking] = name.split('/') as [(typeof INPUTS)[number], keyof typeof CHUNKINGS]
  const { label, size, slice } = CHUNKINGS[chunking]
  const corpora = buildCorpus()
  const corpus = slice ? corpora.slice : corpora.whole

  const byteChunks = chunkBytes(corpus.bytes, Math.min(size, corpus.bytes.length))
  const chunks = input === 'bytes' ? byteChunks : decodeChunks(byteChunks)
  crossCheck(chunks, corpus, input)
  const decoded = input === 'bytes' ? ' + TextDecoder' : ''
  const tasks: Task[] = [
    { name: 'ours', fn: ours(chunks, corpus), expected: corpus.events },
    {
      name: `eventsource-parser 3.1.1${decoded}`,
      fn: eventsourceParser(chunks, corpus, input, createEsParser3),
      expected: corpus.events,
    },
  ]
  if (newest !== undefined) {
    tasks.push({
      name: `eventsource-parser ${newest.version}${decoded}`,
      fn: eventsourceParser(chunks, corpus, input, newest.createParser),
      expected: corpus.events,
    })
  }
  const measured = compare(tasks)
  const mine = measured[0]!
  const mb = (corpus.bytes.length / 1e6).toFixed(2)
  return measured.map((m) => {
    const seconds = m.nsPerIteration / 1e9
    return {
      question,
      case: `${input}, ${label} (${mb} MB, ${corpus.events} events)`,
      contender: m.name,
      bytesPerSec: corpus.bytes.length / seconds,
      eventsPerSec: corpus.events / seconds,
      spread: spread(m),
      ratio: m === mine ? '' : `ours / this = ${formatRatio(mine, m)}`,
    }
  })
}
