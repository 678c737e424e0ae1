/**
 * OpenTelemetry metrics for `@sse`: reads an `@sse/core` instrumentation
 * into instruments of a meter. It depends on `@opentelemetry/api` only, so
 * until the application installs an SDK (a `MeterProvider` with a reader or
 * an exporter) every instrument is a no-op.
 *
 * Attributes are only ever ones of bounded cardinality (a close reason, a
 * gap reason, a store operation): never a topic, a user or a URL.
 */
import { type Meter, metrics, ValueType } from '@opentelemetry/api'
import type { Instrumentation } from '@sse/core'

/** Options for {@link registerMetrics}. */
export interface MetricsOptions {
  /** @defaultValue the global meter provider's meter named `@sse/opentelemetry` */
  meter?: Meter
}

/**
 * The instruments, by name. Counters count since the instrumentation was
 * created; `sse.streams.open` and `sse.queue.bytes` are now.
 */
export const METRICS = {
  streamsOpen: 'sse.streams.open',
  streamsOpened: 'sse.streams.opened',
  streamsClosed: 'sse.streams.closed',
  streamDuration: 'sse.stream.duration',
  framesWritten: 'sse.frames.written',
  bytesWritten: 'sse.bytes.written',
  queueBytes: 'sse.queue.bytes',
  slowClientActions: 'sse.slow_client.actions',
  framesDropped: 'sse.frames.dropped',
  framesConflated: 'sse.frames.conflated',
  replayEvents: 'sse.replay.events',
  replayGaps: 'sse.replay.gaps',
  storeDuration: 'sse.store.duration',
  storeErrors: 'sse.store.errors',
} as const

// Bucket bounds in seconds (the SDK's defaults are for milliseconds): a
// store call takes from a fraction of a millisecond to a timeout; a stream
// lives from a moment to a day.
const STORE_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]
const STREAM_SECONDS = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400]

/**
 * Exports `instrumentation` through OpenTelemetry instruments. Returns a
 * function that stops (unregisters the callbacks and the listener).
 *
 * @example
 * ```ts
 * const instrumentation = createInstrumentation()
 * registerMetrics(instrumentation)
 * ```
 */
export function registerMetrics(
  instrumentation: Instrumentation,
  options: MetricsOptions = {},
): () => void {
  if (typeof instrumentation?.subscribe !== 'function') {
    throw new TypeError('registerMetrics: pass the instrumentation from createInstrumentation()')
  }
  const meter = options.meter ?? metrics.getMeter('@sse/opentelemetry')
  const int = { valueType: ValueType.INT }

  const open = meter.createObservableUpDownCounter(METRICS.streamsOpen, {
    ...int,
    description: 'Event streams open now',
    unit: '{stream}',
  })
  const frames = meter.createObservableCounter(METRICS.framesWritten, {
    ...int,
    description: 'Frames handed to transports: events, comments, heartbeats, replay batches',
    unit: '{frame}',
  })
  const bytes = meter.createObservableCounter(METRICS.bytesWritten, {
    ...int,
    description: 'Bytes handed to transports',
    unit: 'By',
  })
  const queued = meter.createObservableUpDownCounter(METRICS.queueBytes, {
    ...int,
    description: 'Bytes queued behind full transports now, over every stream',
    unit: 'By',
  })
  const dropped = meter.createObservableCounter(METRICS.framesDropped, {
    ...int,
    description: "Frames a slow client never got ('drop-oldest')",
    unit: '{frame}',
  })
  const conflated = meter.createObservableCounter(METRICS.framesConflated, {
    ...int,
    description: "Queued frames replaced by a newer one with the same key ('conflate')",
    unit: '{frame}',
  })
  const observables = [open, frames, bytes, queued, dropped, conflated]
  const observe = (result: {
    observe(observable: (typeof observables)[number], value: number): void
  }): void => {
    result.observe(open, instrumentation.openStreams)
    result.observe(frames, instrumentation.framesWritten)
    result.observe(bytes, instrumentation.bytesWritten)
    result.observe(queued, instrumentation.queuedBytes)
    result.observe(dropped, instrumentation.framesDropped)
    result.observe(conflated, instrumentation.framesConflated)
  }
  meter.addBatchObservableCallback(observe, observables)

  const opened = meter.createCounter(METRICS.streamsOpened, {
    ...int,
    description: 'Event streams opened',
    unit: '{stream}',
  })
  const closed = meter.createCounter(METRICS.streamsClosed, {
    ...int,
    description: 'Event streams closed, by sse.close.reason',
    unit: '{stream}',
  })
  const duration = meter.createHistogram(METRICS.streamDuration, {
    description: 'How long event streams stayed open, by sse.close.reason',
    unit: 's',
    advice: { explicitBucketBoundaries: STREAM_SECONDS },
  })
  const slowClient = meter.createCounter(METRICS.slowClientActions, {
    ...int,
    description:
      'Slow-client policy actions (a close, or a crossing of the bound that starts dropping)',
    unit: '{action}',
  })
  const replayed = meter.createCounter(METRICS.replayEvents, {
    ...int,
    description: 'Events sent from history to resuming streams',
    unit: '{event}',
  })
  const gaps = meter.createCounter(METRICS.replayGaps, {
    ...int,
    description: 'Streams that could not be resumed (sent resync), by sse.gap.reason',
    unit: '{stream}',
  })
  const store = meter.createHistogram(METRICS.storeDuration, {
    description: 'Store calls (appends, history reads), by sse.store.operation',
    unit: 's',
    advice: { explicitBucketBoundaries: STORE_SECONDS },
  })
  const storeErrors = meter.createCounter(METRICS.storeErrors, {
    ...int,
    description: 'Failed store calls, by sse.store.operation',
    unit: '{call}',
  })

  const unsubscribe = instrumentation.subscribe({
    streamOpened: () => opened.add(1),
    streamClosed: (reason, seconds) => {
      closed.add(1, { 'sse.close.reason': reason })
      duration.record(seconds, { 'sse.close.reason': reason })
    },
    slowClient: (action) => slowClient.add(1, { 'sse.slow_client.action': action }),
    replayed: (events) => replayed.add(events),
    gap: (reason) => gaps.add(1, { 'sse.gap.reason': reason }),
    store: (operation, seconds, failed) => {
      store.record(seconds, { 'sse.store.operation': operation })
      if (failed) storeErrors.add(1, { 'sse.store.operation': operation })
    },
  })
  return () => {
    unsubscribe()
    meter.removeBatchObservableCallback(observe, observables)
  }
}
