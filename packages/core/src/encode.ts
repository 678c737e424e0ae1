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
  data?: string
  /** The event type (`addEventListener(type, …)`); must not contain CR or LF. */
  event?: string
  /** The event id the client echoes back as `Last-Event-ID`; must not contain CR, LF or NUL. */
  id?: string
  /** The client's reconnection delay in milliseconds; a non-negative integer. */
  retry?: number
  /** A comment line (ignored by clients); line breaks become several comment lines. */
  comment?: string
}

// Matches the three line endings the spec knows, CRLF first so it is one break.
const LINE_BREAKS = /\r\n|\r|\n/g

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
  let frame = ''
  let dispatches = false
  if (event.comment !== undefined) frame = encodeComment(event.comment)
  if (event.event !== undefined) {
    assertSingleLine(event.event, 'event')
    frame += 'event: ' + event.event + '\n'
    dispatches = true
  }
  if (event.id !== undefined) {
    assertSingleLine(event.id, 'id')
    if (event.id.indexOf('\0') !== -1) {
      throw new SseError('SSE_INVALID_FIELD', 'SSE `id` must not contain NUL', { field: 'id' })
    }
    frame += 'id: ' + event.id + '\n'
    dispatches = true
  }
  if (event.retry !== undefined) {
    const retry = event.retry
    if (!Number.isSafeInteger(retry) || retry < 0) {
      throw new SseError(
        'SSE_INVALID_FIELD',
        `SSE \`retry\` must be a non-negative integer of milliseconds, got ${String(retry)}`,
        { field: 'retry' },
      )
    }
    frame += 'retry: ' + retry + '\n'
  }
  if (event.data !== undefined) {
    frame += encodeData(event.data)
    dispatches = true
  }
  // The blank line dispatches. Comment- or retry-only frames need none.
  return dispatches ? frame + '\n' : frame
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
  if (typeof data !== 'string') throw new TypeError(fieldTypeHint('data', data))
  // Fast path: most payloads (JSON, tokens) are one line; two native scans
  // beat one regex test.
  if (data.indexOf('\n') === -1 && data.indexOf('\r') === -1) return 'data: ' + data + '\n'
  return 'data: ' + data.replace(LINE_BREAKS, '\ndata: ') + '\n'
}

function assertSingleLine(value: string, field: 'event' | 'id'): void {
  if (typeof value !== 'string') throw new TypeError(fieldTypeHint(field, value))
  if (value.indexOf('\n') !== -1 || value.indexOf('\r') !== -1) {
    throw new SseError(
      'SSE_INVALID_FIELD',
      `SSE \`${field}\` must not contain CR or LF: it would start a new field or event`,
      { field },
    )
  }
}

function fieldTypeHint(field: string, value: unknown): string {
  const hint = field === 'data' ? ' (serialize it first, e.g. with JSON.stringify)' : ''
  return `SSE \`${field}\` must be a string, got ${value === null ? 'null' : typeof value}${hint}`
}
