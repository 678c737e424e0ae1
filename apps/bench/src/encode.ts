/**
 * Question: what does our validating `encode()` cost per event, compared with
 * a template string that validates nothing and with better-sse's serializer?
 *
 * better-sse path: `Session#push(data, event, id)` is `EventBuffer#push` (which
 * writes `event`, `id` and `data` through `writeField`, each run through its
 * two-regex `sanitize`) followed by `flush()`, i.e. `read()` + `clear()` +
 * write. We call exactly that on a public `createEventBuffer()`, minus the
 * socket write, with one buffer reused like a session's.
 */
import { encode, encodeBytes } from '@sse/core'
import { createEventBuffer } from 'better-sse'
import { createParser } from 'eventsource-parser'
import { compare, formatRatio, type Row, seededRandom, spread, type Task } from './measure'

export const question = 'encode'

// All three fields present and strings: what a typical app event looks like.
type Event = { id: string; event: string; data: string }

// Frames per timed call: enough that the call itself costs nothing.
const BATCH = 1024
// Distinct events cycled through, so no result can be reused between calls.
const VARIANTS = 64

function typicalEvents(): Event[] {
  const random = seededRandom(42)
  return Array.from({ length: VARIANTS }, (_, i) => ({
    id: String(12345 + i),
    event: 'update',
    // About 150 bytes of JSON, serialized once up front as an app would.
    data: JSON.stringify({
      type: 'order.updated',
      orderId: `ord_${Math.floor(random() * 1e9)}`,
      status: i % 2 === 0 ? 'shipped' : 'processing',
      total: Math.round(random() * 1e6) / 100,
      currency: 'EUR',
      items: 1 + (i % 5),
      updatedAt: new Date(1_700_000_000_000 + i * 60_000).toISOString(),
    }),
  }))
}

function multiLineEvents(): Event[] {
  return Array.from({ length: VARIANTS }, (_, i) => ({
    id: String(12345 + i),
    event: 'log',
    data: Array.from(
      { length: 10 },
      (_, line) => `${line}: worker ${i} processed batch ${i * 10 + line} in ${line + 3} ms`,
    ).join('\n'),
  }))
}

/** Returns the frame as text, or as the UTF-8 bytes that go on the wire. */
type Encoder = (event: Event) => string | Uint8Array

function oursEncoder(): Encoder {
  return (event) => encode(event)
}

function oursBytesEncoder(): Encoder {
  return (event) => encodeBytes(event)
}

// The most obvious hand-rolled frame: no checks for line breaks in `id` or
// `event`, and a raw newline in `data` would end the field.
function naiveEncoder(): Encoder {
  return (e) => `id: ${e.id}\nevent: ${e.event}\ndata: ${e.data}\n\n`
}

// The naive frame, then the same UTF-8 encoding `encodeBytes` does.
function naiveBytesEncoder(): Encoder {
  const textEncoder = new TextEncoder()
  const naive = naiveEncoder()
  return (e) => textEncoder.encode(naive(e) as string)
}

// The obvious hand-rolled fix for multi-line data: one `data:` line per line.
function naiveMultiLineEncoder(): Encoder {
  return (e) =>
    `id: ${e.id}\nevent: ${e.event}\n${e.data
      .split('\n')
      .map((line) => `data: ${line}`)
      .join('\n')}\n\n`
}

/**
 * better-sse on a string payload. Its default serializer is `JSON.stringify`,
 * which would quote an already-serialized string, so for single-line data we
 * pass the string through unchanged. It cannot write a multi-line `data` field
 * at all: `sanitize` normalizes line breaks but does not start continuation
 * lines with `data:`, so the frame would lose them. Its default path
 * (JSON-escaping the string onto one line, the client `JSON.parse`s it back)
 * is what it actually sends for a multi-line string, so that is timed there.
 */
function betterSseEncoder(jsonEscape: boolean): Encoder {
  const buffer = jsonEscape
    ? createEventBuffer()
    : createEventBuffer({ serializer: (d) => d as string })
  return (e) => {
    buffer.push(e.data, e.event, e.id)
    const frame = buffer.read()
    buffer.clear()
    return frame
  }
}

/**
 * Checks every contender's frames once, outside the timing: parsed back by a
 * parser none of them wrote, each must give the original event. Returns the
 * total length of one batch, which the timed runs must reproduce.
 */
function verify(name: string, encoder: Encoder, events: Event[], jsonEscaped: boolean): number {
  let total = 0
  const decoder = new TextDecoder()
  for (let i = 0; i < BATCH; i++) {
    const source = events[i % VARIANTS]!
    const output = encoder(source)
    total += output.length
    const frame = typeof output === 'string' ? output : decoder.decode(output)
    const parsed: { id?: string | undefined; event?: string | undefined; data: string }[] = []
    createParser({ onEvent: (e) => parsed.push(e) }).feed(frame)
    const event = parsed[0]
    const data = event && jsonEscaped ? (JSON.parse(event.data) as string) : event?.data
    if (
      parsed.length !== 1 ||
      event?.id !== source.id ||
      event.event !== source.event ||
      data !== source.data
    ) {
      throw new Error(`encode: ${name} produced a wrong frame: ${JSON.stringify(frame)}`)
    }
  }
  return total
}

function task(
  name: string,
  encoder: Encoder,
  events: Event[],
  jsonEscaped = false,
): Task & { batchChars: number } {
  const expectedLength = verify(name, encoder, events, jsonEscaped)
  return {
    name,
    batchChars: expectedLength,
    expected: BATCH,
    fn() {
      // Summing lengths consumes every frame, so V8 cannot drop the work.
      let length = 0
      let frames = 0
      for (let i = 0; i < BATCH; i++) {
        length += encoder(events[i % VARIANTS]!).length
        frames++
      }
      if (length !== expectedLength) {
        throw new Error(`${name}: ${length} chars, want ${expectedLength}`)
      }
      return frames
    },
  }
}

const CASES = {
  typical: () => {
    const events = typicalEvents()
    return {
      label: `typical: id, event, ${events[0]!.data.length}-char JSON data`,
      tasks: [
        task('ours encode()', oursEncoder(), events),
        task('naive template', naiveEncoder(), events),
        task('better-sse EventBuffer', betterSseEncoder(false), events),
      ],
    }
  },
  // What reaches the socket: the string view above plus UTF-8 encoding.
  'typical-bytes': () => {
    const events = typicalEvents()
    return {
      label: `typical, as UTF-8 bytes: id, event, ${events[0]!.data.length}-char JSON data`,
      tasks: [
        task('ours encodeBytes()', oursBytesEncoder(), events),
        task('naive template + TextEncoder', naiveBytesEncoder(), events),
      ],
    }
  },
  'multi-line': () => {
    const events = multiLineEvents()
    return {
      label: `10-line data (${events[0]!.data.length} chars), id, event`,
      tasks: [
        task('ours encode()', oursEncoder(), events),
        task('naive split/map/join', naiveMultiLineEncoder(), events),
        task('better-sse EventBuffer (JSON-escaped, 1 line)', betterSseEncoder(true), events, true),
      ],
    }
  },
}

export const cases: readonly string[] = Object.keys(CASES)

export async function run(name: string): Promise<Row[]> {
  const { label, tasks } = CASES[name as keyof typeof CASES]()
  const measured = compare(tasks)
  const mine = measured[0]!
  return measured.map((m, index) => {
    const seconds = m.nsPerIteration / 1e9
    return {
      question,
      case: label,
      contender: m.name,
      // The frames are ASCII, so characters are bytes.
      bytesPerSec: tasks[index]!.batchChars / seconds,
      eventsPerSec: BATCH / seconds,
      spread: spread(m),
      ratio: m === mine ? '' : `ours / this = ${formatRatio(mine, m)}`,
    }
  })
}
