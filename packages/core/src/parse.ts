import { SseError } from './errors'
import { createUtf8ChunkDecoder } from './utf8-decoder'

/**
 * An event as the browser's `EventSource` would dispatch it: the fields of the
 * `MessageEvent` it creates.
 */
export interface ParsedEvent {
  /** The `event:` field, or `"message"` when the event had none. */
  type: string
  /** The `data:` lines joined with LF. */
  data: string
  /** The last event ID of the stream when this event was dispatched (kept across events). */
  lastEventId: string
}

/** Callbacks and limits for {@link createParser}. */
export interface ParserOptions {
  /** Called for every dispatched event. */
  onEvent?: (event: ParsedEvent) => void
  /** Called with the reconnection time when a valid `retry:` field arrives. */
  onRetry?: (retryMs: number) => void
  /** Called for every comment line, without the colon and one leading space. */
  onComment?: (comment: string) => void
  /**
   * Called for bad incoming data the parser had to drop (`SSE_MAX_SIZE_EXCEEDED`).
   * Parsing continues with the next event.
   */
  onError?: (error: SseError) => void
  /**
   * The most characters (UTF-16 code units) one event, or one line (finished
   * or not), may buffer. Past it the event is dropped with its id, `onError` is
   * told, and parsing resumes after the next blank line, so a hostile stream
   * cannot grow memory. The outcome does not depend on how chunks are split.
   *
   * @defaultValue 1_048_576
   */
  maxEventSize?: number
}

/** A streaming parser created by {@link createParser}. */
export interface Parser {
  /** Feeds the next chunk: a string, or UTF-8 bytes (decoded across chunk boundaries). */
  feed(chunk: string | Uint8Array): void
  /**
   * Discards any unfinished line and event and starts a new stream (a BOM is
   * stripped again). `lastEventId` is kept, as a reconnecting `EventSource` does.
   */
  reset(): void
  /** The last event ID, updated on dispatch (also by an `id:` without data). */
  readonly lastEventId: string
}

const LF = 0x0a
const CR = 0x0d
// Chunks up to this length are checked for a line end with a char loop.
const TINY_CHUNK = 16
// Ids up to this length are checked for NUL with a char loop.
const SHORT_ID = 32
const SPACE = 0x20
const COLON = 0x3a
const BOM = 0xfeff
const ZERO = 0x30
const NINE = 0x39
// First letters of the field names, for the prefix checks in feed's loop.
const LOWER_A = 0x61
const LOWER_D = 0x64
const LOWER_E = 0x65
const LOWER_I = 0x69
const LOWER_N = 0x6e
const LOWER_R = 0x72
const LOWER_T = 0x74
const LOWER_V = 0x76

/**
 * Creates a streaming parser for `text/event-stream` that follows the WHATWG
 * "interpreting an event stream" algorithm exactly: CR, LF and CRLF line ends
 * (also split across chunks), BOM stripped only at the start, one leading space
 * stripped from values, unknown fields ignored, `id` with NUL ignored, `retry`
 * only as ASCII digits, no dispatch without a `data:` line, and an unfinished
 * event at the end of the stream never dispatched.
 *
 * @example
 * ```ts
 * const parser = createParser({ onEvent: (e) => render(e.type, JSON.parse(e.data)) })
 * for await (const chunk of response.body) parser.feed(chunk)
 * ```
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export function createParser(options: ParserOptions = {}): Parser {
  const { onEvent, onRetry, onComment, onError } = options
  const maxEventSize = options.maxEventSize ?? 1_048_576
  if (!(maxEventSize > 0))
    throw new TypeError('createParser: `maxEventSize` must be a positive number')

  const utf8 = createUtf8ChunkDecoder()
  let atStreamStart = true
  // The unfinished last line of previous chunks. Appending chunks to it is a
  // rope concatenation in V8, and only the new chunk is searched for a line
  // end, so a long line arriving in tiny chunks stays linear, not quadratic.
  let pending = ''
  // The previous chunk ended in CR: an LF starting this one ends the same line.
  let skipLeadingLF = false
  // Dropping an oversized event until the blank line that ends it.
  let discarding = false
  // The start of the current line was dropped, so its end is not a blank line.
  let lineDropped = false
  let eventSize = 0

  let data = ''
  let hasData = false
  let eventType = ''
  let idBuffer = ''
  let lastEventId = ''

  // A throwing callback must not leave the parser mid-chunk: keep parsing and
  // rethrow the first error when the chunk is done. Each callback site has its
  // own try/catch rather than one shared `call(fn, arg)` helper: a shared
  // helper sees four callback shapes and stays megamorphic and un-inlined.
  let callbackError: { error: unknown } | undefined

  function feed(chunk: string | Uint8Array): void {
    let text: string
    if (typeof chunk === 'string') text = chunk
    else if (chunk instanceof Uint8Array) text = utf8.decode(chunk)
    else throw new TypeError('parser.feed: expected a string or a Uint8Array chunk')
    const len = text.length
    if (len === 0) return

    // A tiny chunk inside a line (a network delivering a few bytes at a
    // time): a char loop proves it has no line end cheaper than two native
    // searches would, and it only extends the unfinished line.
    if (len <= TINY_CHUNK && !atStreamStart && !skipLeadingLF && !discarding) {
      let lineEnd = false
      for (let i = 0; i < len; i++) {
        const c = text.charCodeAt(i)
        if (c === LF || c === CR) {
          lineEnd = true
          break
        }
      }
      if (!lineEnd) {
        pending += text
        if (pending.length + eventSize > maxEventSize) {
          tooLarge()
          lineDropped = true
          rethrowCallbackError()
        }
        return
      }
    }

    let pos = 0
    if (atStreamStart) {
      atStreamStart = false
      if (text.charCodeAt(0) === BOM) pos = 1
    }
    if (skipLeadingLF) {
      skipLeadingLF = false
      if (pos < len && text.charCodeAt(pos) === LF) pos++
    }

    // Native indexOf finds line ends (a JS char loop is several times slower
    // per char). Most streams never send CR: one scan proves this chunk has
    // none, and then each line costs a single indexOf for LF.
    let nextCR = text.indexOf('\r', pos)
    let nextLF = text.indexOf('\n', pos)
    // The first line of a chunk may continue an unfinished line of the last one.
    let continued = pending.length > 0 || lineDropped

    while (nextLF !== -1 || nextCR !== -1) {
      let end: number
      let next: number
      if (nextCR === -1 || (nextLF !== -1 && nextLF < nextCR)) {
        end = nextLF
        next = end + 1
      } else {
        end = nextCR
        if (end + 1 < len) {
          next = text.charCodeAt(end + 1) === LF ? end + 2 : end + 1
        } else {
          next = len
          skipLeadingLF = true
        }
      }

      // The line is text[pos, end). The common lines are handled right here,
      // in the loop, with char-code prefix checks: no call, no substring and
      // no colon search per line. Everything else goes to processLine.
      if (continued) {
        continued = false
        if (lineDropped) {
          lineDropped = false
        } else {
          // Only this one line per chunk is a concatenation (a rope in V8);
          // lines inside the chunk are sliced from it directly.
          const head = pending
          pending = ''
          if (
            head.length > 5 &&
            head.charCodeAt(4) === COLON &&
            isDataName(head, 0) &&
            eventSize + head.length + (end - pos) <= maxEventSize
          ) {
            // Most lines a chunk boundary splits are long `data:` lines, cut
            // inside the value: the name, colon and space arrived already, so
            // the value is joined as it is, not copied into a line first.
            applyData(
              (head.charCodeAt(5) === SPACE ? head.slice(6) : head.slice(5)) + text.slice(pos, end),
            )
          } else {
            const line = head + text.slice(pos, end)
            processLine(line, 0, line.length)
          }
        }
      } else if (pos === end) {
        // A blank line: dispatch, or end the oversized event being dropped.
        if (discarding) {
          discarding = false
          eventSize = 0
        } else {
          dispatch()
        }
      } else if (discarding) {
        // Inside an event being dropped: ignore the line.
      } else if (eventSize + (end - pos) > maxEventSize) {
        // Same budget as an unfinished line at a chunk's end (see below), so
        // whether an event is dropped never depends on the chunking.
        tooLarge()
      } else {
        // The three common fields and unheard comments, told apart by their
        // first letter and checked here without finding the colon first;
        // anything else (or a space before the colon) goes through
        // processField, which applies the same checks. The checks are
        // written out, not calls to isDataName and the like: feed is too
        // large for V8 to inline them, and a call per line cost 20-30% of
        // the time on short lines. The length tests come first: a read past
        // the text's end gives NaN and deoptimizes this loop each time.
        const first = text.charCodeAt(pos)
        const length = end - pos
        if (
          first === LOWER_D &&
          length > 4 &&
          text.charCodeAt(pos + 4) === COLON &&
          text.charCodeAt(pos + 1) === LOWER_A &&
          text.charCodeAt(pos + 2) === LOWER_T &&
          text.charCodeAt(pos + 3) === LOWER_A
        ) {
          applyData(text.slice(text.charCodeAt(pos + 5) === SPACE ? pos + 6 : pos + 5, end))
        } else if (
          first === LOWER_I &&
          length > 2 &&
          text.charCodeAt(pos + 2) === COLON &&
          text.charCodeAt(pos + 1) === LOWER_D
        ) {
          applyId(text.slice(text.charCodeAt(pos + 3) === SPACE ? pos + 4 : pos + 3, end))
        } else if (
          first === LOWER_E &&
          length > 5 &&
          text.charCodeAt(pos + 5) === COLON &&
          text.charCodeAt(pos + 1) === LOWER_V &&
          text.charCodeAt(pos + 2) === LOWER_E &&
          text.charCodeAt(pos + 3) === LOWER_N &&
          text.charCodeAt(pos + 4) === LOWER_T
        ) {
          applyEvent(text.slice(text.charCodeAt(pos + 6) === SPACE ? pos + 7 : pos + 6, end))
        } else if (first !== COLON || onComment !== undefined) {
          processField(text, pos, end)
        }
      }

      pos = next
      if (nextLF !== -1 && nextLF < pos) {
        // Every event ends in a blank line, so the next char is often LF
        // itself: checking it first saves a native call per event.
        nextLF = pos < len && text.charCodeAt(pos) === LF ? pos : text.indexOf('\n', pos)
      }
      if (nextCR !== -1 && nextCR < pos) nextCR = text.indexOf('\r', pos)
    }

    if (pos < len) {
      if (discarding) lineDropped = true
      else {
        pending += pos === 0 ? text : text.slice(pos)
        if (pending.length + eventSize > maxEventSize) {
          tooLarge()
          lineDropped = true
        }
      }
    }

    rethrowCallbackError()
  }

  function rethrowCallbackError(): void {
    if (callbackError !== undefined) {
      const { error } = callbackError
      callbackError = undefined
      throw error
    }
  }

  /** A whole line, outside feed's loop: the continuation of an unfinished line. */
  function processLine(line: string, start: number, end: number): void {
    if (start === end) {
      if (discarding) {
        discarding = false
        eventSize = 0
      } else {
        dispatch()
      }
      return
    }
    if (discarding) return
    if (eventSize + (end - start) > maxEventSize) {
      tooLarge()
      return
    }
    processField(line, start, end)
  }

  /** Any non-blank line that fits the budget: comments, `retry`, and fields feed's fast checks did not take. */
  function processField(line: string, start: number, end: number): void {
    const first = line.charCodeAt(start)
    if (first === COLON) {
      if (onComment !== undefined) {
        const from = start + 1 < end && line.charCodeAt(start + 1) === SPACE ? start + 2 : start + 1
        try {
          onComment(line.slice(from, end))
        } catch (error) {
          callbackError ??= { error }
        }
      }
      return
    }

    // Field names are short, so a bounded char loop finds the colon cheaply
    // and never scans past this line (indexOf could run to the chunk's end).
    let colon = start + 1
    while (colon < end && line.charCodeAt(colon) !== COLON) colon++
    const nameLength = colon - start
    let valueStart = colon + 1
    if (valueStart < end && line.charCodeAt(valueStart) === SPACE) valueStart++
    if (valueStart > end) valueStart = end

    // The same named checks as the fast path in feed (a line without a
    // colon is all name), then the rarer `retry`. No substring per line.
    if (nameLength === 4 && isDataName(line, start)) {
      applyData(line.slice(valueStart, end))
    } else if (nameLength === 5 && isEventName(line, start)) {
      applyEvent(line.slice(valueStart, end))
    } else if (nameLength === 2 && isIdName(line, start)) {
      applyId(line.slice(valueStart, end))
    } else if (nameLength === 5 && first === LOWER_R && isField(line, start, 'retry')) {
      if (valueStart === end) return
      for (let i = valueStart; i < end; i++) {
        const c = line.charCodeAt(i)
        if (c < ZERO || c > NINE) return
      }
      if (onRetry !== undefined) {
        const retry = Number.parseInt(line.slice(valueStart, end), 10)
        try {
          onRetry(retry)
        } catch (error) {
          callbackError ??= { error }
        }
      }
    }
    // Any other field is ignored, as the spec says.
  }

  function applyData(value: string): void {
    // No size check here: the whole line, never shorter than value + LF,
    // fitted the event's budget before the line was read.
    eventSize += value.length + 1
    if (hasData) data = data + '\n' + value
    else {
      data = value
      hasData = true
    }
  }

  function applyEvent(value: string): void {
    eventType = value
    eventSize += value.length
  }

  function applyId(value: string): void {
    // An id with NUL is ignored, so the previous id stays. Most ids are
    // short, and a char loop beats a native search's fixed cost on them.
    if (value.length <= SHORT_ID) {
      for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) === 0) return
    } else if (value.indexOf('\0') !== -1) return
    idBuffer = value
  }

  function dispatch(): void {
    lastEventId = idBuffer
    eventSize = 0
    if (!hasData) {
      eventType = ''
      return
    }
    const event: ParsedEvent = { type: eventType || 'message', data, lastEventId }
    data = ''
    hasData = false
    eventType = ''
    if (onEvent !== undefined) {
      try {
        onEvent(event)
      } catch (error) {
        callbackError ??= { error }
      }
    }
  }

  function tooLarge(): void {
    pending = ''
    data = ''
    hasData = false
    eventType = ''
    // The event is dropped whole, its id too, wherever its id line was.
    idBuffer = lastEventId
    eventSize = 0
    discarding = true
    if (onError !== undefined) {
      const error = new SseError(
        'SSE_MAX_SIZE_EXCEEDED',
        `SSE event larger than maxEventSize (${maxEventSize} characters) was dropped`,
      )
      try {
        onError(error)
      } catch (thrown) {
        callbackError ??= { error: thrown }
      }
    }
  }

  function reset(): void {
    utf8.reset()
    atStreamStart = true
    pending = ''
    skipLeadingLF = false
    discarding = false
    lineDropped = false
    eventSize = 0
    data = ''
    hasData = false
    eventType = ''
    // Like Chromium's EventSource, a new stream starts from the last event ID.
    idBuffer = lastEventId
  }

  return {
    feed,
    reset,
    get lastEventId() {
      return lastEventId
    },
  }
}

// Named checks for the common field names at `pos`, for processField and
// for a line that continues the last chunk's (feed's loop writes the same
// checks out); the caller checks that the line is long enough and where the
// name ends.

function isDataName(text: string, pos: number): boolean {
  return (
    text.charCodeAt(pos) === LOWER_D &&
    text.charCodeAt(pos + 1) === LOWER_A &&
    text.charCodeAt(pos + 2) === LOWER_T &&
    text.charCodeAt(pos + 3) === LOWER_A
  )
}

function isEventName(text: string, pos: number): boolean {
  return (
    text.charCodeAt(pos) === LOWER_E &&
    text.charCodeAt(pos + 1) === LOWER_V &&
    text.charCodeAt(pos + 2) === LOWER_E &&
    text.charCodeAt(pos + 3) === LOWER_N &&
    text.charCodeAt(pos + 4) === LOWER_T
  )
}

function isIdName(text: string, pos: number): boolean {
  return text.charCodeAt(pos) === LOWER_I && text.charCodeAt(pos + 1) === LOWER_D
}

function isField(line: string, start: number, name: string): boolean {
  for (let i = 1; i < name.length; i++) {
    if (line.charCodeAt(start + i) !== name.charCodeAt(i)) return false
  }
  return true
}
