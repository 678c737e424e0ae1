/**
 * What an operator needs to see, without a dependency: sessions and hubs
 * given an {@link Instrumentation} count into it, and an exporter
 * (`@sse/opentelemetry`) reads it. Sessions and hubs without one pay a
 * single `undefined` check.
 *
 * The hot path (every frame written, every byte queued) adds to plain
 * numbers that an exporter reads when it collects; everything rarer (a
 * stream opening or closing, a slow-client action, a replay, a gap, a store
 * call) is also told to listeners as it happens, for counters by reason
 * and for histograms.
 */

import type { CloseReason } from './session'

/** A store call the hub times: an append (publish) or a history read. */
export type StoreOperation = 'append' | 'read'

/** Why a session could not be resumed (see `GapInfo`). */
export type GapReason = 'expired' | 'unknown' | 'error' | 'reset'

/** Told of everything rarer than a write, as it happens. All optional. */
export interface InstrumentationListener {
  streamOpened?(): void
  /** `seconds`: how long the stream was open. */
  streamClosed?(reason: CloseReason, seconds: number): void
  /**
   * A session's queue crossed `maxQueueBytes` and the policy acted: `close`
   * (the client was closed) or `drop-oldest` (once per crossing, however
   * many frames it then drops; see `framesDropped`).
   */
  slowClient?(action: 'close' | 'drop-oldest'): void
  /** A resuming session was sent `events` events from history. */
  replayed?(events: number): void
  gap?(reason: GapReason): void
  /** A store call finished; `failed` when it threw or rejected. */
  store?(operation: StoreOperation, seconds: number, failed: boolean): void
}

/** Counts what sessions and hubs given it do. See the file's header. */
export interface Instrumentation {
  /** Streams open now. */
  readonly openStreams: number
  /** Frames handed to transports (events, comments, replay batches, heartbeats), since creation. */
  readonly framesWritten: number
  /** Their bytes. */
  readonly bytesWritten: number
  /** Bytes queued behind full transports now, over every session. */
  readonly queuedBytes: number
  /** Frames a slow client never got: dropped by `drop-oldest`, since creation. */
  readonly framesDropped: number
  /** Queued frames replaced by a newer one with the same key (`conflate`), since creation. */
  readonly framesConflated: number
  /** Adds a listener; returns its remover. */
  subscribe(listener: InstrumentationListener): () => void
}

/**
 * Creates an instrumentation: give it to every `sse()` route and hub as
 * their `instrumentation` option, and to an exporter.
 *
 * @example
 * ```ts
 * const instrumentation = createInstrumentation()
 * const hub = createHub({ instrumentation })
 * app.get('/events', sse(handler, { instrumentation }))
 * ```
 */
export function createInstrumentation(): Instrumentation {
  return new Counters()
}

const BRAND: unique symbol = Symbol.for('@sse/core.instrumentation') as never

/** Internal: the writable side sessions and hubs use. */
export class Counters implements Instrumentation {
  openStreams = 0
  framesWritten = 0
  bytesWritten = 0
  queuedBytes = 0
  framesDropped = 0
  framesConflated = 0
  // Set in the constructor: a field named by a symbol (a computed key) makes
  // the class look side-effectful to bundlers, and kept in every bundle.
  declare readonly [BRAND]: true
  listeners: InstrumentationListener[] = []

  constructor() {
    this[BRAND] = true
  }

  subscribe(listener: InstrumentationListener): () => void {
    this.listeners = [...this.listeners, listener]
    return () => {
      this.listeners = this.listeners.filter((known) => known !== listener)
    }
  }

  streamOpened(): void {
    this.openStreams++
    for (const listener of this.listeners) listener.streamOpened?.()
  }

  streamClosed(reason: CloseReason, seconds: number): void {
    this.openStreams--
    for (const listener of this.listeners) listener.streamClosed?.(reason, seconds)
  }

  slowClient(action: 'close' | 'drop-oldest'): void {
    for (const listener of this.listeners) listener.slowClient?.(action)
  }

  replayed(events: number): void {
    for (const listener of this.listeners) listener.replayed?.(events)
  }

  gap(reason: GapReason): void {
    for (const listener of this.listeners) listener.gap?.(reason)
  }

  store(operation: StoreOperation, seconds: number, failed: boolean): void {
    for (const listener of this.listeners) listener.store?.(operation, seconds, failed)
  }
}

/** Internal: the instrumentation option checked, as the writable side. */
export function countersOf(value: unknown, where: string): Counters | undefined {
  if (value === undefined) return undefined
  // A brand, not instanceof: the ESM and the CommonJS copy of this package
  // (both loaded in one app) must accept each other's.
  if (typeof value !== 'object' || value === null || !(BRAND in value)) {
    throw new TypeError(`${where}: \`instrumentation\` must come from createInstrumentation()`)
  }
  return value as Counters
}
