/**
 * Draining: ending a process's (or a hub's) event streams without a
 * reconnect storm. Each open stream is sent a `retry:` hint with jitter and
 * closed, the closes spread evenly over a window, so clients come back
 * gradually (to the instances that remain) and resume with Last-Event-ID.
 * Meanwhile new streams are not taken.
 */

import { encode } from './encode'
import {
  backgroundTimer,
  type CloseHooks,
  type CloseListener,
  kClose,
  kOnClose,
  type Session,
} from './session'

/** Options for {@link Drainer.drain} and `hub.drain`. */
export interface DrainOptions {
  /**
   * Milliseconds over which open streams are closed, evenly spread: with
   * 1,000 streams and 10 s, one every 10 ms. `0` closes them all at once.
   * A stalled event loop stretches the window a little rather than closing
   * what fell behind at once.
   *
   * @defaultValue 10_000
   */
  window?: number
  /**
   * The reconnection delay sent to each stream just before it closes, in
   * ms; each stream gets a random value between half and one and a half
   * times it, so streams closed together do not come back together.
   *
   * @defaultValue 2000
   */
  retry?: number
}

/** Options for {@link createDrainer}. */
export interface DrainerOptions {
  /**
   * What a stream requested while draining gets. `close` (the default): the
   * stream opens, is sent a jittered `retry:` hint and ends at once, without
   * running the handler; the browser's `EventSource` reconnects after the
   * hint (to another instance, once the load balancer has taken this one
   * out). `refuse`: `503 Service Unavailable` with `Retry-After`, for load
   * balancers and clients that retry a 503 (`@sse/client` does); the
   * browser's `EventSource` gives up on any status but 200, for good.
   *
   * @defaultValue 'close'
   */
  newStreams?: 'close' | 'refuse'
  /** Seconds in the 503's `Retry-After` (`newStreams: 'refuse'`). @defaultValue 5 */
  retryAfter?: number
}

/**
 * Every stream a process opens through the bindings given it (the `drainer`
 * option of `sse()`), and one call to end them gracefully.
 */
export interface Drainer {
  /** Streams open now. */
  readonly size: number
  /** `true` once {@link Drainer.drain} was called: new streams are not taken. */
  readonly draining: boolean
  /** See {@link DrainerOptions.newStreams}. */
  readonly newStreams: 'close' | 'refuse'
  /** See {@link DrainerOptions.retryAfter}. */
  readonly retryAfter: number
  /**
   * Stops taking new streams, and closes every open one (close reason
   * `drain`) spread over `window`, each sent a jittered `retry:` hint
   * first. Resolves once every stream is closed: then `server.close()`
   * completes. Calling it again returns the same promise.
   */
  drain(options?: DrainOptions): Promise<void>
  /**
   * Internal, for bindings: tracks an opened session until it closes, or
   * (while draining) ends it at once.
   */
  track(session: Session): void
}

/**
 * Creates a drainer: pass it to every `sse()` route of a server (the
 * `drainer` option), then call `drain()` on shutdown.
 *
 * @example
 * ```ts
 * const drainer = createDrainer()
 * const server = createServer(sse(handler, { drainer }))
 * process.once('SIGTERM', () => drainer.drain({ window: 10_000 }).then(() => server.close()))
 * ```
 */
export function createDrainer(options: DrainerOptions = {}): Drainer {
  const { newStreams = 'close', retryAfter = 5 } = options
  if (newStreams !== 'close' && newStreams !== 'refuse') {
    throw new TypeError(
      `createDrainer: \`newStreams\` must be 'close' or 'refuse', got ${JSON.stringify(newStreams)}`,
    )
  }
  if (!(Number.isInteger(retryAfter) && retryAfter >= 0)) {
    throw new TypeError('createDrainer: `retryAfter` must be a whole number of seconds')
  }
  const open = new Set<Session>()
  let draining: Promise<void> | undefined
  let retry = DEFAULT_RETRY
  // One listener for every tracked session, not a closure per stream.
  const untrack = (session: Session): void => {
    open.delete(session)
  }

  return {
    get size() {
      return open.size
    },
    get draining() {
      return draining !== undefined
    },
    newStreams,
    retryAfter,
    drain(drainOptions) {
      if (draining !== undefined) return draining
      const { window, retry: hint } = resolveDrainOptions(drainOptions)
      retry = hint
      draining = closeSpread([...open], window, hint)
      return draining
    },
    track(session) {
      if (draining !== undefined) {
        closeForDrain(session, retry)
        return
      }
      open.add(session)
      onClose(session, untrack)
    },
  }
}

const DEFAULT_RETRY = 2000

/** Internal: checks {@link DrainOptions}, filling in the defaults. */
export function resolveDrainOptions(options: DrainOptions = {}): {
  window: number
  retry: number
} {
  const { window = 10_000, retry = DEFAULT_RETRY } = options
  if (!(typeof window === 'number' && window >= 0 && Number.isFinite(window))) {
    throw new TypeError('drain: `window` must be a non-negative number of ms')
  }
  if (!(Number.isInteger(retry) && retry >= 0)) {
    throw new TypeError('drain: `retry` must be a non-negative integer of ms')
  }
  return { window, retry }
}

/**
 * Internal: sends `session` a jittered `retry:` hint and closes it with
 * reason `drain` (what is queued is delivered first).
 */
export function closeForDrain(session: Session, retry: number): void {
  if (session.closed) return
  const jittered = Math.round(retry * (0.5 + Math.random()))
  session.write(textEncoder.encode(encode({ retry: jittered })))
  const close = (session as Partial<Closable>)[kClose]
  if (close !== undefined) close.call(session, 'drain')
  else session.close()
}

/**
 * Internal: closes `sessions` evenly over `window` ms (the i-th of n at
 * i/n of it), one timer at a time. Resolves once the last is closed.
 */
export function closeSpread(
  sessions: readonly Session[],
  window: number,
  retry: number,
): Promise<void> {
  const count = sessions.length
  if (count === 0) return Promise.resolve()
  return new Promise((resolve) => {
    let started = Date.now()
    let next = 0
    const step = Math.max(window / count, 5)
    // The most one tick closes: twice its even share. A tick that comes late
    // (a stalled event loop) goes on at the even rate from then, taking a
    // little longer than `window`, rather than closing the backlog at once.
    const most = window === 0 ? count : 2 * Math.max(1, Math.ceil((count * step) / window))
    const tick = (): void => {
      const now = Date.now()
      const elapsed = now - started
      let due =
        elapsed >= window ? count : Math.min(count, Math.floor((count * elapsed) / window) + 1)
      if (due - next > most) {
        due = next + most
        started = now - ((due - 1) * window) / count
      }
      while (next < due) closeForDrain(sessions[next++]!, retry)
      if (next < count) backgroundTimer(tick, Math.max(1, Math.min(step, window - (now - started))))
      else resolve()
    }
    tick()
  })
}

interface Closable extends CloseHooks {
  [kClose](reason: 'drain'): void
}

function onClose(session: Session, listener: CloseListener): void {
  const hook = (session as Partial<Closable>)[kOnClose]
  if (hook !== undefined) hook.call(session, listener)
  else session.signal.addEventListener('abort', () => listener(session), { once: true })
}

const textEncoder = /* @__PURE__ */ new TextEncoder()
