import { connect, type SseError } from '@sse/client'
import { openStream, startServer } from '@sse/test-utils/scripted-server'
import { until } from '@sse/test-utils/until'
import { expect, test } from 'vitest'
import { z } from 'zod'

// The map the server's `Hub<Events>` publishes (see core's typed-events test).
type Events = { price: { symbol: string; usd: number }; message: string }
const Price = z.object({ symbol: z.string(), usd: z.number() })

test('typed events: JSON values, narrowed by type, checked by a Standard Schema (zod); a bad event is reported and skipped', async () => {
  const server = await startServer((seen) =>
    openStream(
      seen.res,
      'retry: 10000\n\n' +
        'event: price\ndata: {"symbol":"ACME","usd":1.5}\n\n' +
        'event: price\ndata: {"symbol":"ACME"}\n\n' + // fails the schema
        'event: price\ndata: not json\n\n' +
        'data: "hello"\n\n',
    ),
  )
  const stream = connect<Events>(server.url, { json: true, schemas: { price: Price } })
  const errors: SseError[] = []
  stream.addEventListener('error', (error) => errors.push(error))
  const prices: number[] = []
  stream.addEventListener('price', (event) => prices.push(event.value.usd))
  const seen: Array<[string, unknown]> = []
  for await (const event of stream) {
    if (event.type === 'price') {
      seen.push([event.type, event.value.symbol])
      // @ts-expect-error a price has no `text`
      void event.value.text
    } else {
      seen.push([event.type, event.value.toUpperCase()])
    }
    if (seen.length === 2) break
  }
  expect(seen).toEqual([
    ['price', 'ACME'],
    ['message', 'HELLO'],
  ])
  expect(prices).toEqual([1.5])
  expect(errors.map((e) => e.code)).toEqual(['SSE_INVALID_EVENT', 'SSE_INVALID_EVENT'])
  expect(errors[0]!.message).toMatch(/'price' event failed its schema/)
  expect(errors[1]!.message).toMatch(/not JSON/)
  await server.close()
})

test('an async schema is refused per event (order would break), and the stream goes on', async () => {
  const server = await startServer((seen) =>
    openStream(seen.res, 'retry: 10000\n\nevent: price\ndata: {}\n\ndata: "next"\n\n'),
  )
  const asyncSchema = {
    '~standard': {
      version: 1 as const,
      vendor: 'test',
      validate: async (value: unknown) => ({ value: value as Events['price'] }),
    },
  }
  const stream = connect<Events>(server.url, { json: true, schemas: { price: asyncSchema } })
  const errors: string[] = []
  stream.addEventListener('error', (error) => errors.push(error.message))
  const messages: string[] = []
  stream.addEventListener('message', (event) => messages.push(event.value))
  await until(() => messages.length === 1, 'the next event')
  expect(errors).toEqual(["The schema for 'price' is async; events need a sync schema"])
  stream.close()
  await server.close()
})

test('schemas without json: true are a TypeError at the call', () => {
  expect(() => connect('http://localhost/', { schemas: { price: Price } } as never)).toThrow(
    /json: true/,
  )
})
