import { fileURLToPath } from 'node:url'
import { readmeExamples } from '@sse/test-utils/docs'
import { expect, test } from 'vitest'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const examples = readmeExamples(packageDir)

test('every README code block is an example file; the install line names what they import', () => {
  expect(examples.map((e) => e.file)).toEqual(['examples/metrics.ts'])
})

test('examples/metrics.ts: a stream and an event show up in the exported metrics', async () => {
  process.env.PORT = '0'
  const { exporter, reader, hub, server } = await import('../examples/metrics')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  const controller = new AbortController()
  const response = await fetch(`http://127.0.0.1:${port}/`, { signal: controller.signal })
  const body = response.body!.getReader()
  await body.read() // the retry hint: the stream is open
  await hub.publish('news', 'hello')
  await reader.forceFlush()
  const names = new Map(
    exporter
      .getMetrics()
      .at(-1)!
      .scopeMetrics.flatMap((scope) => scope.metrics)
      .map((metric) => [metric.descriptor.name, metric.dataPoints[0]?.value]),
  )
  expect(names.get('sse.streams.open')).toBe(1)
  expect(names.get('sse.streams.opened')).toBe(1)
  expect(names.get('sse.frames.written')).toBeGreaterThanOrEqual(2)
  controller.abort()
  hub.close()
  await reader.shutdown()
  await new Promise((resolve) => server.close(resolve))
})
