import { createParser, type ParsedEvent, type SseSink } from '@sse/core'

/** An in-memory sink that records every write and can pretend to be full. */
export interface MemorySink extends SseSink {
  readonly chunks: Uint8Array[]
  readonly closed: boolean
  /** When true, write() accepts the chunk but reports a full buffer. */
  full: boolean
  /** Simulates the transport draining: calls the pending drain listener. */
  drain(): void
  /** Simulates the client disconnecting. */
  disconnect(): void
  /** Everything written, decoded. */
  text(): string
  /** Everything written, parsed with our parser. */
  events(): ParsedEvent[]
}

export function memorySink(): MemorySink {
  const controller = new AbortController()
  const chunks: Uint8Array[] = []
  let drainListener: (() => void) | undefined
  let closed = false
  const sink: MemorySink = {
    chunks,
    full: false,
    get closed() {
      return closed
    },
    write(chunk) {
      if (closed) throw new Error('write after close')
      chunks.push(chunk)
      return !sink.full
    },
    onDrain(listener) {
      if (drainListener !== undefined) throw new Error('two drain listeners at once')
      drainListener = listener
    },
    close() {
      closed = true
    },
    signal: controller.signal,
    drain() {
      const listener = drainListener
      drainListener = undefined
      listener?.()
    },
    disconnect() {
      controller.abort()
    },
    text() {
      const decoder = new TextDecoder()
      return chunks.map((c) => decoder.decode(c)).join('')
    },
    events() {
      return parseAll(sink.text())
    },
  }
  return sink
}

export function parseAll(text: string | Uint8Array): ParsedEvent[] {
  const events: ParsedEvent[] = []
  createParser({ onEvent: (event) => events.push(event) }).feed(text)
  return events
}

/** Reads a Response body to the end (or until `signal` aborts) and parses it. */
export async function readEvents(
  body: ReadableStream<Uint8Array>,
  until: (events: ParsedEvent[]) => boolean = () => false,
): Promise<ParsedEvent[]> {
  const events: ParsedEvent[] = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  const reader = body.getReader()
  while (!until(events)) {
    const { done, value } = await reader.read()
    if (done) break
    parser.feed(value)
  }
  reader.releaseLock()
  return events
}
