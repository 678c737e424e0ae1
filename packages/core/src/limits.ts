/** Options for {@link createConnectionLimiter}. */
export interface ConnectionLimiterOptions {
  /** The most open streams in total. @defaultValue Infinity */
  max?: number
  /** The most open streams per key (user, IP…). @defaultValue Infinity */
  maxPerKey?: number
  /**
   * Seconds sent in `Retry-After` with a 429, a hint for well-behaved clients.
   * (The browser's EventSource does not retry a 429 at all: it fails, and the
   * page decides.)
   *
   * @defaultValue 5
   */
  retryAfter?: number
}

/** Counts open streams; bindings ask it before opening one. */
export interface ConnectionLimiter {
  /**
   * Reserves a slot, or returns `undefined` when `max` or `maxPerKey` is
   * reached. The returned release function frees the slot; calling it again
   * does nothing.
   */
  acquire(key?: string): (() => void) | undefined
  /** The most open streams in total. */
  readonly max: number
  /** The most open streams per key. */
  readonly maxPerKey: number
  /** Open streams in total. */
  readonly size: number
  /** Open streams for `key`. */
  count(key: string): number
  /** Seconds for `Retry-After`. */
  readonly retryAfter: number
}

/**
 * Creates a limiter for open streams, in total and per key. Pass it to a
 * binding's `limit` option: over the limit, the client gets `429 Too Many
 * Requests` with `Retry-After`, and no stream is opened.
 *
 * @example
 * ```ts
 * const limiter = createConnectionLimiter({ max: 10_000, maxPerKey: 5 })
 * app.get('/events', sse(handler, { limit: { limiter, key: ({ req }) => userId(req) } }))
 * ```
 */
export function createConnectionLimiter(options: ConnectionLimiterOptions = {}): ConnectionLimiter {
  const max = options.max ?? Number.POSITIVE_INFINITY
  const maxPerKey = options.maxPerKey ?? Number.POSITIVE_INFINITY
  const retryAfter = options.retryAfter ?? 5
  if (!(max >= 1) || !(maxPerKey >= 1)) {
    throw new TypeError('createConnectionLimiter: `max` and `maxPerKey` must be >= 1')
  }
  if (!Number.isInteger(retryAfter) || retryAfter < 0) {
    throw new TypeError('createConnectionLimiter: `retryAfter` must be a whole number of seconds')
  }
  const perKey = new Map<string, number>()
  let size = 0

  return {
    acquire(key) {
      if (size >= max) return undefined
      if (key !== undefined && (perKey.get(key) ?? 0) >= maxPerKey) return undefined
      size++
      if (key !== undefined) perKey.set(key, (perKey.get(key) ?? 0) + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        size--
        if (key === undefined) return
        const left = (perKey.get(key) ?? 1) - 1
        // Delete at zero, so a churn of distinct keys (IPs) cannot grow the map.
        if (left === 0) perKey.delete(key)
        else perKey.set(key, left)
      }
    },
    get size() {
      return size
    },
    count: (key) => perKey.get(key) ?? 0,
    max,
    maxPerKey,
    retryAfter,
  }
}

/**
 * The `limit` option of a binding: a limiter and how to key a request. There
 * is no default key: a limiter with `maxPerKey` needs `key`.
 */
export interface LimitOption<Context> {
  limiter: ConnectionLimiter
  /**
   * The key for `maxPerKey` (a user id, an IP), from the binding's context;
   * `undefined` counts only toward `max`.
   */
  key?: (context: Context) => string | undefined
}
