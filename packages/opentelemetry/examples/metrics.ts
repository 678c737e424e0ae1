import { createServer } from 'node:http'
import { metrics } from '@opentelemetry/api'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { createHub, createInstrumentation } from '@sse/core'
import { sse } from '@sse/node-http'
import { registerMetrics } from '@sse/opentelemetry'

// Your SDK setup, first: here an in-memory exporter; in production an OTLP
// or Prometheus one. Without an SDK every instrument is a no-op.
export const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
export const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 10_000 })
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }))

// One instrumentation for the process: every route and hub counts into it.
const instrumentation = createInstrumentation()
registerMetrics(instrumentation)

export const hub = createHub({ instrumentation })
export const server = createServer(
  sse((session) => hub.subscribe(session, 'news').ready, { instrumentation }),
).listen(Number(process.env.PORT ?? 3000))
