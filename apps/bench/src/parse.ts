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

const CORPUS_BYTES = 4 * 1024 * 1024
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

/**
 * The workloads people stream, each a deterministic stream of about
 * `CORPUS_BYTES`:
 * - `json`: small JSON events with ids (a fifth of them named), as a
 *   dashboard, a feed or a notification stream sends them;
 * - `tokens`: LLM token chunks in the `chat.completion.chunk` format, `data:`
 *   lines only, each completion ending in `data: [DONE]`, as a chat client
 *   reads them;
 * - `multiline`: large events of 20-200 `data:` lines (documents, logs);
 * - `mixed`: JSON and multi-line events with heartbeat comments, id-only
 *   frames and `retry:` fields mixed in.
 * A few percent of the text is non-ASCII, so the UTF-8 decode is real work,
 * 1-byte chunks split multi-byte characters, and (as on a real socket) some
 * decoded chunks are one-byte strings and others two-byte strings in V8.
 */
export const CORPORA = ['json', 'tokens', 'multiline', 'mixed'] as const
export type CorpusKind = (typeof CORPORA)[number]

const EVENT_NAMES = ['update', 'price', 'message.created', 'presence']
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'sse', 'stream', 'token', 'ok', 'ready']
const UNICODE = ['café', 'naïve', '日本語', 'Ωmega', '✓ done', '🚀 launch']
// Tokens as a model emits them: mostly a word with its leading space, some
// punctuation, escaped newlines, word pieces and non-ASCII.
const TOKENS = [
  ' the',
  ' a',
  ' stream',
  ' server',
  ' event',
  ' client',
  ' to',
  ' of',
  ' and',
  ' is',
  ' connection',
  ' reconnect',
  '.',
  ',',
  ':',
  '\n\n',
  '\n',
  '**',
  ' `',
  'data',
  '`',
  'ing',
  'ed',
  ' ID',
  ' 4',
  '2',
  ' café',
  ' 日本',
  '語',
  ' 🚀',
]

interface Frames {
  next(): { frame: string; events: number; dataChars: number }
}

function framesOf(kind: CorpusKind, random: () => number): Frames {
  const int = (n: number) => Math.floor(random() * n)
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!
  let seq = 1000

  const jsonEvent = () => {
    seq++
    const data = JSON.stringify({
      id: seq,
      user: `user-${int(10_000)}`,
      ts: 1_700_000_000_000 + seq * 37,
      value: Math.round(random() * 1e6) / 100,
      tags: Array.from({ length: 1 + int(4) }, () => pick(WORDS)),
      text: random() < 0.05 ? pick(UNICODE) : pick(WORDS),
    })
    const name = random() < 0.2 ? `event: ${pick(EVENT_NAMES)}\n` : ''
    return { frame: `id: ${seq}\n${name}data: ${data}\n\n`, events: 1, dataChars: data.length }
  }

  const multilineEvent = (minLines: number, maxLines: number, maxWords: number) => {
    seq++
    const lines = Array.from({ length: minLines + int(maxLines - minLines + 1) }, (_, i) => {
      const words = Array.from({ length: 1 + int(maxWords) }, () =>
        random() < 0.03 ? pick(UNICODE) : pick(WORDS),
      )
      return `${i}: ${words.join(' ')}`
    })
    return {
      frame: `id: ${seq}\nevent: log\ndata: ${lines.join('\ndata: ')}\n\n`,
      events: 1,
      dataChars: lines.join('\n').length,
    }
  }

  switch (kind) {
    case 'json':
      return { next: jsonEvent }
    case 'multiline':
      return { next: () => multilineEvent(20, 200, 16) }
    case 'tokens': {
      // One completion: a role chunk, 20-400 content chunks, a stop chunk, [DONE].
      let left = 0
      let completion = ''
      let created = 1_733_000_000
      return {
        next() {
          let data: string
          const chunk = (delta: object, finish: string | null) =>
            JSON.stringify({
              id: completion,
              object: 'chat.completion.chunk',
              created,
              model: 'gpt-4o-mini-2024-07-18',
              system_fingerprint: 'fp_0ba0d124f1',
              choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
            })
          if (left === 0) {
            left = 22 + int(400)
            created += 1 + int(30)
            completion = `chatcmpl-${Math.floor(random() * 2 ** 52).toString(36)}${seq++}`
            data = chunk({ role: 'assistant', content: '', refusal: null }, null)
          } else if (left === 2) data = chunk({}, 'stop')
          else if (left === 1) data = '[DONE]'
          else data = chunk({ content: pick(TOKENS) }, null)
          left--
          return { frame: `data: ${data}\n\n`, events: 1, dataChars: data.length }
        },
      }
    }
    case 'mixed':
      return {
        next() {
          const kind = random()
          if (kind < 0.55) return jsonEvent()
          if (kind < 0.75) return multilineEvent(3, 10, 8)
          seq++
          // Heartbeat comments, an id alone (moves the last event ID), a retry: no event.
          const frame =
            kind < 0.9
              ? random() < 0.5
                ? ': ping\n\n'
                : ':\n\n'
              : kind < 0.97
                ? `id: ${seq}\n\n`
                : `retry: ${1000 + int(9000)}\n\n`
          return { frame, events: 0, dataChars: 0 }
        },
      }
  }
}

/**
 * Builds the corpus of `kind` and, at the first frame boundary past
 * `SLICE_BYTES`, a prefix for the 1-byte rows.
 */
export function buildCorpus(kind: CorpusKind): { whole: Corpus; slice: Corpus } {
  const frames = framesOf(kind, seededRandom(0x5ee))
  const encoder = new TextEncoder()
  const parts: string[] = []
  let bytes = 0
  let events = 0
  let dataChars = 0
  let slice = { byteLength: 0, events: 0, dataChars: 0 }
  while (bytes < CORPUS_BYTES) {
    const frame = frames.next()
    parts.push(frame.frame)
    bytes += encoder.encode(frame.frame).length
    events += frame.events
    dataChars += frame.dataChars
    if (slice.byteLength === 0 && bytes >= SLICE_BYTES)
      slice = { byteLength: bytes, events, dataChars }
  }
  const all = encoder.encode(parts.join(''))
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
 * The least work any line-by-line parser does on these corpora, as a bound on
 * how far one can lead another: find each LF with native `indexOf`; tell the
 * three fields apart by their first letter and slice their values (after the
 * name, colon and space); join an event's data lines; on a blank line hand an
 * event object to a callback. Nothing else: no CR, no BOM, no field name
 * checked past its first letter, no NUL in ids, no `retry`, no comments, no
 * size cap. Not a parser, and right only because every corpus here writes
 * its fields with the space and starts no other line with `d`, `e` or `i`
 * (what it dispatches is checked like the parsers'). Strings only: with
 * bytes, decoding comes first, and how to decode is where parsers differ.
 */
function floor(chunks: readonly string[], corpus: Corpus): () => number {
  return () => {
    let events = 0
    let chars = 0
    const onEvent = (event: { type: string; data: string; lastEventId: string }) => {
      events++
      chars += event.data.length
    }
    let data = ''
    let hasData = false
    let type = ''
    let id = ''
    let tail = ''
    const field = (line: string, start: number, end: number): void => {
      const first = line.charCodeAt(start)
      if (first === 0x64) {
        const value = line.slice(start + 6, end)
        data = hasData ? data + '\n' + value : value
        hasData = true
      } else if (first === 0x65) type = line.slice(start + 7, end)
      else if (first === 0x69) id = line.slice(start + 4, end)
    }
    for (let c = 0; c < chunks.length; c++) {
      const text = chunks[c]!
      let pos = 0
      let lf = text.indexOf('\n')
      while (lf !== -1) {
        if (tail !== '') {
          const line = tail + text.slice(0, lf)
          tail = ''
          field(line, 0, line.length)
        } else if (lf === pos) {
          if (hasData) {
            onEvent({ type: type || 'message', data, lastEventId: id })
            hasData = false
          }
          type = ''
        } else field(text, pos, lf)
        pos = lf + 1
        lf = pos < text.length && text.charCodeAt(pos) === 0x0a ? pos : text.indexOf('\n', pos)
      }
      if (pos < text.length) tail += text.slice(pos)
    }
    if (chars !== corpus.dataChars)
      throw new Error(`floor: ${chars} data chars, want ${corpus.dataChars}`)
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
  '64k': { label: '64 KiB chunks', size: 64 * 1024, slice: false },
  '1k': { label: '1 KiB chunks', size: 1024, slice: false },
  '1b': { label: '1-byte chunks', size: 1, slice: true },
} as const

/** `json/bytes/64k`, `tokens/strings/1b`, …: each is measured in a fresh process. */
export const cases: readonly string[] = CORPORA.flatMap((corpus) =>
  INPUTS.flatMap((input) =>
    Object.keys(CHUNKINGS).map((chunking) => `${corpus}/${input}/${chunking}`),
  ),
)

export async function run(name: string): Promise<Row[]> {
  const [kind, input, chunking] = name.split('/') as [
    CorpusKind,
    (typeof INPUTS)[number],
    keyof typeof CHUNKINGS,
  ]
  const { label, size, slice } = CHUNKINGS[chunking]
  const corpora = buildCorpus(kind)
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
  if (input === 'strings') {
    tasks.push({
      name: 'floor: find lines, slice and join data (not a parser)',
      fn: floor(chunks as string[], corpus),
      expected: corpus.events,
    })
  }
  if (newest !== undefined) {
    tasks.push({
      name: `eventsource-parser ${newest.version}${decoded}`,
      fn: eventsourceParser(chunks, corpus, input, newest.createParser),
      expected: corpus.events,
    })
  }
  const measured = compare(tasks)
  const mine = measured[0]!
  const floorRow = measured.find((m) => m.name.startsWith('floor'))
  const theirs = measured.filter((m) => m.name.startsWith('eventsource-parser'))
  const mb = (corpus.bytes.length / 1e6).toFixed(2)
  return measured.map((m) => {
    const seconds = m.nsPerIteration / 1e9
    return {
      question,
      case: `${kind}, ${input}, ${label} (${mb} MB, ${corpus.events} events)`,
      contender: m.name,
      bytesPerSec: corpus.bytes.length / seconds,
      eventsPerSec: corpus.events / seconds,
      spread: spread(m),
      ratio:
        m === mine
          ? ''
          : m === floorRow
            ? // How far a parser could lead eventsource-parser at most, here.
              `ours / this = ${formatRatio(mine, m)}; this / eventsource-parser ${theirs.map((t) => `${t.name.split(' ')[1]} = ${formatRatio(m, t)}`).join(', ')}`
            : `ours / this = ${formatRatio(mine, m)}`,
    }
  })
}
