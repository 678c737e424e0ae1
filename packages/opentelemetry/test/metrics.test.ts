import http from 'node:http'
import net from 'node:net'
import { metrics } from '@opentelemetry/api'
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { createHub, createInstrumentation, createMemoryEngine, type Engine } from '@sse/core'
import { sse } from '@sse/node-http'
import { METRICS, registerMetrics } from '@sse/opentelemetry'
import { type ListeningServer, listen, until } from '@sse/test-utils'
import { afterEach, describe, expect, test } from 'vitest'

/** The real SDK, with its in-memory exporter: what an application would install. */
function sdk() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({ readers: [reader] })
  /** Every data point of `name` now, with its attributes. */
  const read = async (name: string): Promise<Array<DataPoint<number | Histogram>>> => {
    exporter.reset()
    await reader.forceFlush()
    const batches = exporter.getMetrics()
    const found = batches
      .at(-1)
      ?.scopeMetrics.flatMap((scope) => scope.metrics)
      .find((metric) => metric.descriptor.name === name)
    return (found?.dataPoints ?? []) as Array<DataPoint<number | Histogram>>
  }
  return {
    provider,
    meter: provider.getMeter('test'),
    read,
    /** The value of `name` with exactly `attributes` (a histogram's count). */
    async value(name: string, attributes: Record<string, string> = {}): Promise<number> {
      const points = await read(name)
      const point = points.find((p) => JSON.stringify(p.attributes) === JSON.stringify(attributes))
      if (point === undefined) return 0
      return typeof point.value === 'number' ? point.value : point.value.count
    },
  }
}

const servers: ListeningServer[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close()
})

/** A stream read with fetch until `abort()`; the last id it saw. */
function openStream(url: string, lastEventId?: string) {
  const controller = new AbortController()
  let text = ''
  const done = fetch(url, {
    signal: controller.signal,
    headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
  })
    .then(async (response) => {
      const reader = response.body!.getReader()
      const decoder = new TextDecoder()
      for (;;) {
        const { done: end, value } = await reader.read()
        if (end) return
        text += decoder.decode(value, { stream: true })
      }
    })
    .catch(() => undefined)
  return {
    text: () => text,
    lastId: () => [...text.matchAll(/^id: (.*)$/gm)].at(-1)?.[1],
    abort: () => controller.abort(),
    done,
  }
}

describe('registerMetrics', () => {
  test('a server in use: open streams, opened and closed by reason, frames, bytes, replay, gaps, store calls', async () => {
    const { meter, read, value } = sdk()
    const instrumentation = createInstrumentation()
    const stop = registerMetrics(instrumentation, { meter })
    const inner = createMemoryEngine()
    let failReads = false
    const engine: Engine = {
      ...inner,
      read(shard, position) {
        if (failReads) throw new Error('store down')
        return inner.read(shard, position)
      },
    }
    const hub = createHub({ engine, instrumentation })
    const server = await listen(
      http.createServer(
        sse((session) => hub.subscribe(session, 'news').ready, {
          instrumentation,
          heartbeat: false,
          maxQueueBytes: 4096,
        }),
      ),
    )
    servers.push(server)

    const a = openStream(server.url)
    const b = openStream(server.url)
    await until(() => instrumentation.openStreams === 2, 'two streams open')
    expect(await value(METRICS.streamsOpen)).toBe(2)
    await hub.publish('news', 'one')
    await until(() => a.text().includes('one') && b.text().includes('one'), 'the event')
    const resumeFrom = a.lastId()!
    a.abort()
    await until(() => instrumentation.openStreams === 1, 'the client left')
    await hub.publish('news', 'two')
    await hub.publish('news', 'three')

    // Resumes: one replays 2 events, one with a forged id gets resync, one hits a failing store.
    const resumed = openStream(server.url, resumeFrom)
    const forged = openStream(server.url, '0:nope')
    await until(
      () => resumed.text().includes('three') && forged.text().includes('resync'),
      'resumes',
    )
    // A new event, so the next resume does not share the earlier read.
    await hub.publish('news', 'four')
    failReads = true
    const failing = openStream(server.url, resumeFrom)
    await until(() => failing.text().includes('resync'), 'a resync after the failed read')

    // A client that stops reading: closed as slow.
    const stalled = net.connect(server.port, '127.0.0.1')
    stalled.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    stalled.pause()
    await until(() => instrumentation.openStreams === 5, 'the stalled stream open')
    const big = 'x'.repeat(64 * 1024)
    for (let i = 0; i < 200 && instrumentation.openStreams === 5; i++) {
      await hub.publish('news', big)
      await new Promise((resolve) => setImmediate(resolve))
    }
    await until(() => instrumentation.openStreams === 4, 'the slow client closed')
    stalled.destroy()

    hub.close() // closes the rest: reason server
    await until(() => instrumentation.openStreams === 0, 'every stream closed')

    expect(await value(METRICS.streamsOpen)).toBe(0)
    expect(await value(METRICS.streamsOpened)).toBe(6)
    expect(await value(METRICS.streamsClosed, { 'sse.close.reason': 'client' })).toBe(1)
    expect(await value(METRICS.streamsClosed, { 'sse.close.reason': 'slow-client' })).toBe(1)
    expect(await value(METRICS.streamsClosed, { 'sse.close.reason': 'server' })).toBe(4)
    expect(await value(METRICS.streamDuration, { 'sse.close.reason': 'server' })).toBe(4)
    expect(await value(METRICS.slowClientActions, { 'sse.slow_client.action': 'close' })).toBe(1)
    expect(await value(METRICS.replayEvents)).toBe(2)
    expect(resumed.text()).toContain('two')
    expect(await value(METRICS.replayGaps, { 'sse.gap.reason': 'unknown' })).toBe(1)
    expect(await value(METRICS.replayGaps, { 'sse.gap.reason': 'error' })).toBe(1)
    expect(await value(METRICS.storeErrors, { 'sse.store.operation': 'read' })).toBe(1)
    // Two reads reached the store: the resume and the failed one (a forged id never does).
    expect(await value(METRICS.storeDuration, { 'sse.store.operation': 'read' })).toBe(2)
    expect(await value(METRICS.storeDuration, { 'sse.store.operation': 'append' })).toBeGreaterThan(
      3,
    )
    expect(await value(METRICS.framesWritten)).toBe(instrumentation.framesWritten)
    expect(await value(METRICS.bytesWritten)).toBeGreaterThan(64 * 1024)
    expect(await value(METRICS.queueBytes)).toBe(0)
    // Bounded attributes only: no topic, id or URL anywhere.
    for (const name of Object.values(METRICS)) {
      for (const point of await read(name)) {
        for (const key of Object.keys(point.attributes)) {
          expect([
            'sse.close.reason',
            'sse.slow_client.action',
            'sse.gap.reason',
            'sse.store.operation',
          ]).toContain(key)
        }
      }
    }
    stop()
  })

  test('drop-oldest and conflate: frames dropped and replaced, queued bytes now, one action per crossing', async () => {
    const { meter, value } = sdk()
    const instrumentation = createInstrumentation()
    registerMetrics(instrumentation, { meter })
    const { createSession } = await import('@sse/core')
    const stalled = () => ({
      write: () => false,
      onDrain: () => undefined,
      close: () => undefined,
      onClientGone: () => undefined,
    })
    const dropping = createSession(stalled(), {
      instrumentation,
      slowClient: 'drop-oldest',
      maxQueueBytes: 100,
      heartbeat: false,
      retry: false,
    })
    for (let i = 0; i < 50; i++) dropping.send('0123456789')
    const conflating = createSession(stalled(), {
      instrumentation,
      slowClient: 'conflate',
      heartbeat: false,
      retry: false,
    })
    for (let i = 0; i < 20; i++) conflating.send(i, { key: 'k' })
    expect(
      await value(METRICS.slowClientActions, { 'sse.slow_client.action': 'drop-oldest' }),
    ).toBe(1)
    // 18-byte frames: the first reached the transport, 5 fit the 100-byte bound.
    expect(dropping.queuedBytes).toBe(90)
    expect(await value(METRICS.framesDropped)).toBe(50 - 1 - 5)
    expect(await value(METRICS.framesConflated)).toBe(18)
    expect(await value(METRICS.queueBytes)).toBe(dropping.queuedBytes + conflating.queuedBytes)
    dropping.close()
    conflating.close()
    expect(await value(METRICS.queueBytes)).toBe(0)
    expect(await value(METRICS.streamsOpen)).toBe(0)
  })

  test('without a meter it uses the global provider: a no-op until an SDK is installed', async () => {
    const instrumentation = createInstrumentation()
    // No SDK: the API's no-op meter. Nothing throws, nothing is recorded.
    const stopNoop = registerMetrics(instrumentation)
    stopNoop()
    const { provider, value } = sdk()
    metrics.setGlobalMeterProvider(provider)
    try {
      const stop = registerMetrics(instrumentation)
      const { createSession } = await import('@sse/core')
      const session = createSession(
        {
          write: () => true,
          onDrain: () => undefined,
          close: () => undefined,
          onClientGone: () => undefined,
        },
        { instrumentation, heartbeat: false },
      )
      expect(await value(METRICS.streamsOpen)).toBe(1)
      session.close()
      stop()
    } finally {
      metrics.disable()
    }
  })

  test('stop() unregisters: nothing more is recorded', async () => {
    const { meter, value } = sdk()
    const instrumentation = createInstrumentation()
    const stop = registerMetrics(instrumentation, { meter })
    stop()
    const { createSession } = await import('@sse/core')
    createSession(
      {
        write: () => true,
        onDrain: () => undefined,
        close: () => undefined,
        onClientGone: () => undefined,
      },
      { instrumentation, heartbeat: false },
    ).close()
    expect(await value(METRICS.streamsOpened)).toBe(0)
  })

  test('an instrumentation option that is not one is a TypeError', () => {
    expect(() => createHub({ instrumentation: {} as never })).toThrow(TypeError)
    expect(() =>
      sse(() => undefined, { instrumentation: { subscribe: () => undefined } as never }),
    ).toThrow(/createInstrumentation/)
    expect(() => registerMetrics({} as never)).toThrow(TypeError)
  })
})
