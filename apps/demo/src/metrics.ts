// GET /metrics: the demo's @sse instrumentation in Prometheus's text format,
// through the OpenTelemetry SDK and its official Prometheus exporter (as a
// reader of this process's own meter provider, served by our server rather
// than a second port). The page's metrics panel polls it.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import type { Instrumentation } from '@sse/core'
import { registerMetrics } from '@sse/opentelemetry'

export interface DemoMetrics {
  handle(req: IncomingMessage, res: ServerResponse): void
  close(): Promise<void>
}

export function createMetrics(instrumentation: Instrumentation): DemoMetrics {
  const exporter = new PrometheusExporter({ preventServerStart: true })
  const provider = new MeterProvider({ readers: [exporter] })
  const stop = registerMetrics(instrumentation, { meter: provider.getMeter('@sse/demo') })
  return {
    handle: (req, res) => exporter.getMetricsRequestHandler(req, res),
    async close() {
      stop()
      await provider.shutdown()
    },
  }
}
