import { SseError } from './errors'

/**
 * One event to write on a stream. Every field is optional; a frame with only
 * `comment` or only `retry` is valid and dispatches nothing in the browser.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export interface SseEvent {
  /**
   * The payload. Each line (split on CRLF, CR or LF) becomes its own `data:`
   * line; the browser joins them back with LF. An empty string still produces
   * a `data:` line, so the browser dispatches an event with empty data.
   */
  data?: string | undefined
  /** The event type (`addEventListener(type, …)`); must not contain CR or LF. */
  event?: string | undefined
  /** The event id the client echoes back as `Last-Event-ID`; must not contain CR, LF or NUL. */
  id?: string | undefined
  /** The client's reconnection delay in milliseconds; a non-negative integer. */
  retry?: number | undefined
  /** A comment line (ignored by clients); line breaks become several comment lines. */
  comment?: string | undefined
}

// Matches the three line endings the spec knows, CRLF first so it is one break.
const LINE_BREAKS = /\r\n|\r|\n/g

const NUL = 0x00
const LF = 0x0a
const CR = 0x0d
// Up to this length a char-code loop checks a value faster than native
// indexOf calls, whose fixed cost per call dominates on ids and event names.
const SHORT_VALUE = 32

/**
 * Serializes one event into a spec-correct frame, ending with the blank line
 * that dispatches it.
 *
 * Throws {@link SseError} `SSE_INVALID_FIELD` when `event` or `id` contains a
 * line break (or `id` a NUL), or `retry` is not a non-negative integer: such a
 * value could otherwise forge fields or whole events from untrusted text.
 *
 * @example
 * ```ts
 * encode({ event: 'price', id: '42', data: '{"usd":1}' })
 * // 'event: price\nid: 42\ndata: {"usd":1}\n\n'
 * ```
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream
 */
export function encode(event: SseEvent): string {
  // Each field is read once. Validation runs in the order the frame is written
  // (comment, event, id, retry, data), so the first bad field is the one reported.
  const { comment, event: type, id, retry, data } = event
  const prefix = comment === undefined ? '' : encodeComment(comment)
  if (type !== undefined) assertSingleLine(type, 'event')
  if (id !== undefined) assertId(id)
  if (retry !== undefined) assertRetry(retry)
  if (data !== undefined && typeof data !== 'string')
    throw new TypeError(fieldTypeHint('data', data))

  // The common frame (event, id and one line of data) is built in one
  // expression: no intermediate `frame +=` strings, and no per-field branches.
  if (
    prefix === '' &&
    retry === undefined &&
    type !== undefined &&
    id !== undefined &&
    data !== undefined &&
    !hasLineBreak(data)
  ) {
    return 'event: ' + type + '\nid: ' + id + '\ndata: ' + data + '\n\n'
  }

  let frame = prefix
  if (type !== undefined) frame += 'event: ' + type + '\n'
  if (id !== undefined) frame += 'id: ' + id + '\n'
  if (retry !== undefined) frame += 'retry: ' + retry + '\n'
  if (data !== undefined) frame += encodeData(data)
  // The blank line dispatches. Comment- or retry-only frames need none.
  return type !== undefined || id !== undefined || data !== undefined ? frame + '\n' : frame
}

/**
 * Internal: the frame of `session.send`. `oneLine`: `data` is known to hold
 * no line break (JSON.stringify's output), so it is not scanned. The last
 * event name that passed validation is remembered, since a stream's event
 * names repeat.
 */
export function encodeSend(
  data: string,
  oneLine: boolean,
  type: string | undefined,
  id: string | undefined,
  retry: number | undefined,
): string {
  if (type !== undefined && type !== lastType) {
    assertSingleLine(type, 'event')
    lastType = type
    // Flat strings, built once per name: each frame then costs as many
    // concatenations as a template literal with the name written in.
    lastTypeAndId = flat('event: ' + type + '\nid: ')
    lastTypeAndData = flat('event: ' + type + '\ndata: ')
  }
  if (retry === undefined && (oneLine || !hasLineBreak(data))) {
    if (id === undefined) {
      return type === undefined ? 'data: ' + data + '\n\n' : lastTypeAndData + data + '\n\n'
    }
    if (!isCleanShortId(id)) assertId(id)
    return type === undefined
      ? 'id: ' + id + '\ndata: ' + data + '\n\n'
      : lastTypeAndId + id + '\ndata: ' + data + '\n\n'
  }
  return encode({ data, event: type, id, retry })
}

let lastType: string | undefined
let lastTypeAndId = ''
let lastTypeAndData = ''

/** A string V8 stores flat (not as a tree of concatenations). */
function flat(text: string): string {
  // Reading a char flattens a concatenation in place.
  text.charCodeAt(0)
  return text
}

/**
 * The common id: a short string with no CR, LF or NUL, in one pass for all
 * three (three indexOf calls cost more on a short string).
 */
function isCleanShortId(id: string): boolean {
  if (typeof id !== 'string' || id.length > SHORT_VALUE) return false
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i)
    if (c <= CR && (c === LF || c === CR || c === NUL)) return false
  }
  return true
}

/** The UTF-8 length of `text` (lone surrogates count as U+FFFD, 3 bytes, as TextEncoder writes them). */
export function utf8Length(text: string): number {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) {
      bytes += 1
      continue
    }
    bytes += 2
    // A surrogate pair is 4 bytes for its 2 code units: skip the low half.
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) i++
    }
  }
  return bytes
}

const textEncoder = /* @__PURE__ */ new TextEncoder()

/**
 * {@link encode} to UTF-8 bytes: encode a broadcast once, write the same bytes
 * to every connection.
 *
 * @example
 * ```ts
 * const bytes = encodeBytes({ data: 'hello' })
 * for (const socket of sockets) socket.write(bytes)
 * ```
 */
export function encodeBytes(event: SseEvent): Uint8Array {
  return textEncoder.encode(encode(event))
}

/**
 * Serializes a comment frame (`: text`), one comment line per line of `text`.
 * Clients ignore comments; servers use them as heartbeats that keep proxies
 * from closing an idle stream.
 *
 * @example
 * ```ts
 * encodeComment('ping') // ': ping\n'
 * ```
 */
export function encodeComment(text: string): string {
  if (typeof text !== 'string') throw new TypeError(fieldTypeHint('comment', text))
  if (text === '') return ':\n'
  if (text.indexOf('\n') === -1 && text.indexOf('\r') === -1) return ': ' + text + '\n'
  return ': ' + text.replace(LINE_BREAKS, '\n: ') + '\n'
}

function encodeData(data: string): string {
  // Most payloads (JSON, tokens) are one line: two native scans beat one regex.
  if (!hasLineBreak(data)) return 'data: ' + data + '\n'
  return 'data: ' + data.replace(LINE_BREAKS, '\ndata: ') + '\n'
}

/** Whether `value` contains CR or LF. */
function hasLineBreak(value: string): boolean {
  if (value.length <= SHORT_VALUE) {
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i)
      // One compare rejects almost every char: CR and LF are below 14.
      if (c <= CR && (c === LF || c === CR)) return true
    }
    return false
  }
  // memchr-backed native scans: far faster per char than a JS loop or a regex
  // on long payloads, and still cheaper than one regex pass for both chars.
  return value.indexOf('\n') !== -1 || value.indexOf('\r') !== -1
}

function assertSingleLine(value: string, field: 'event' | 'id'): void {
  if (typeof value !== 'string') throw new TypeError(fieldTypeHint(field, value))
  if (hasLineBreak(value)) {
    throw new SseError(
      'SSE_INVALID_FIELD',
      `SSE \`${field}\` must not contain CR or LF: it would start a new field or event`,
      { field },
    )
  }
}

function assertId(id: string): void {
  if (typeof id !== 'string') throw new TypeError(fieldTypeHint('id', id))
  // Only an id that fails the one-pass check goes on to the checks below,
  // which name the right error.
  if (isCleanShortId(id)) return
  // A line break is reported before a NUL.
  assertSingleLine(id, 'id')
  if (id.indexOf('\0') !== -1) {
    throw new SseError('SSE_INVALID_FIELD', 'SSE `id` must not contain NUL', { field: 'id' })
  }
}

function assertRetry(retry: number): void {
  if (!Number.isSafeInteger(retry) || retry < 0) {
    throw new SseError(
      'SSE_INVALID_FIELD',
      `SSE \`retry\` must be a non-negative integer of milliseconds, got ${String(retry)}`,
      { field: 'retry' },
    )
  }
}

function fieldTypeHint(field: string, value: unknown): string {
  const hint = field === 'data' ? ' (serialize it first, e.g. with JSON.stringify)' : ''
  return `SSE \`${field}\` must be a string, got ${value === null ? 'null' : typeof value}${hint}`
}
