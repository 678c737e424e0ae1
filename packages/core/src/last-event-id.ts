/**
 * The longest Last-Event-ID accepted. Longer values are ignored, so a client
 * cannot make the server look up or log arbitrary amounts of text.
 */
export const MAX_LAST_EVENT_ID_LENGTH = 1024

/**
 * The client's Last-Event-ID: the `Last-Event-ID` header, else the
 * `lastEventId` query parameter (for EventSource polyfills that cannot set
 * headers). The header's UTF-8 bytes are decoded, so a non-ASCII id sent by
 * a browser (or `@sse/client`) round-trips. A value that is too long, is not
 * UTF-8, or contains control characters is ignored (`undefined`), never an
 * error.
 *
 * @example
 * ```ts
 * readLastEventId(request.headers.get('last-event-id'), request.url)
 * ```
 */
export function readLastEventId(
  header: string | null | undefined,
  url?: string | URL | null,
): string | undefined {
  if (header !== null && header !== undefined) {
    // Bounded before decoding: the decoded id is never longer than its bytes.
    if (header.length > MAX_LAST_EVENT_ID_LENGTH * 4) return undefined
    const decoded = fromUtf8Bytes(header)
    return decoded === undefined ? undefined : validLastEventId(decoded)
  }
  if (url === undefined || url === null) return undefined
  let query: string | null
  try {
    query = (typeof url === 'string' ? new URL(url, 'http://localhost') : url).searchParams.get(
      'lastEventId',
    )
  } catch {
    // An unparsable URL carries no usable id; ignoring it is the spec'd outcome.
    return undefined
  }
  return query === null ? undefined : validLastEventId(query)
}

function validLastEventId(value: string): string | undefined {
  if (value.length === 0 || value.length > MAX_LAST_EVENT_ID_LENGTH) return undefined
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    // C0 controls (CR, LF, NUL…), DEL, and U+FFFD from undecodable bytes.
    if (c < 0x20 || c === 0x7f || c === 0xfffd) return undefined
  }
  return value
}

const utf8 = /* @__PURE__ */ new TextDecoder('utf-8', { fatal: true })

/**
 * Header values arrive as one char per byte (Node's parser, and `Headers` on
 * every Web runtime), while clients send the id's UTF-8 bytes (the spec's
 * "encoded as UTF-8"). Decodes them back; undefined for bytes that are not
 * UTF-8. A value with a char above U+00FF was decoded already and is kept.
 */
function fromUtf8Bytes(value: string): string | undefined {
  let high = false
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c > 0xff) return value
    if (c >= 0x80) high = true
  }
  if (!high) return value
  const bytes = new Uint8Array(value.length)
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i)
  try {
    return utf8.decode(bytes)
  } catch {
    // Not UTF-8: no id a spec client could have sent; ignored like any other invalid one.
    return undefined
  }
}
