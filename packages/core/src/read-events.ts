import { SseError } from './errors'
import { createParser, type ParsedEvent } from './parse'

/** Options for {@link readEvents}. */
export interface ReadEventsOptions {
  /** Stop once this many events have been read; they are what resolves. */
  count?: number
  /** Stop once this returns `true` for the events read so far (checked after each). */
  until?: (events: readonly ParsedEvent[]) => boolean
  /**
   * Milliseconds to wait for `count` or `until` (or the end of the stream)
   * before rejecting with an `SseError` of code `SSE_TIMEOUT`.
   *
   * @defaultValue 5000
   */
  timeout?: number
  /** For a URL: what `fetch` sends (headers such as `Last-Event-ID`, a method, a body). */
  init?: RequestInit
}

/**
 * Reads the events of a stream with the same parser the browser's algorithm
 * is checked against: for testing your own SSE endpoints. Takes a `Response`
 * or a URL (fetched), and resolves with the events read when `count` is
 * reached, `until` says so, or the stream ends; then cancels the body. A
 * response that is not an event stream (a status other than 200, another
 * `Content-Type`) rejects with `SSE_INVALID_RESPONSE`, and waiting longer
 * than `timeout` with `SSE_TIMEOUT`.
 *
 * @example
 * ```ts
 * const events = await readEvents(`${url}/news`, { count: 2, timeout: 2000 })
 * expect(events.map((e) => e.data)).toEqual(['first', 'second'])
 * ```
 */
export function readEvents(
  source: Response | string | URL,
  options: ReadEventsOptions = {},
): Promise<ParsedEvent[]> {
  const { count } = options
  const timeout = options.timeout ?? 5000
  if (count !== undefined && !(Number.isInteger(count) && count >= 0)) {
    throw new TypeError('readEvents: `count` must be an integer >= 0')
  }
  if (!(timeout > 0)) throw new TypeError('readEvents: `timeout` must be > 0 (ms)')
  return readUntil(source, options, timeout)
}

async function readUntil(
  source: Response | string | URL,
  { count, until, init }: ReadEventsOptions,
  timeout: number,
): Promise<ParsedEvent[]> {
  const events: ParsedEvent[] = []
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const wanted = count === undefined ? '' : ` of ${count}`
      const error = new SseError(
        'SSE_TIMEOUT',
        `readEvents: ${events.length}${wanted} events within ${timeout} ms`,
      )
      controller.abort(error)
      reject(error)
    }, timeout)
  })
  const done = (): boolean =>
    (count !== undefined && events.length >= count) || (until?.(events) ?? false)
  let stopped = done()
  const read = async (): Promise<ParsedEvent[]> => {
    const response =
      source instanceof Response
        ? source
        : await fetch(source, { ...init, signal: init?.signal ?? controller.signal })
    const type = response.headers.get('content-type') ?? ''
    if (response.status !== 200 || !/^text\/event-stream\b/i.test(type)) {
      await response.body?.cancel()
      throw new SseError(
        'SSE_INVALID_RESPONSE',
        `readEvents: ${response.status} ${type || 'without Content-Type'} is not an event stream`,
        { status: response.status },
      )
    }
    if (response.body === null || stopped) return events
    const reader = response.body.getReader()
    const parser = createParser({
      onEvent: (event) => {
        // Events after the one that satisfied `count` or `until` in the same
        // chunk are not returned.
        if (stopped) return
        events.push(event)
        stopped = done()
      },
    })
    controller.signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined))
    try {
      while (!stopped) {
        const { done: ended, value } = await reader.read()
        if (ended) break
        parser.feed(value)
      }
    } finally {
      await reader.cancel().catch(() => undefined)
    }
    return events
  }
  const reading = read()
  // After a timeout the read ends by itself (its body is cancelled).
  reading.catch(() => undefined)
  try {
    return await Promise.race([reading, timedOut])
  } finally {
    clearTimeout(timer)
  }
}
