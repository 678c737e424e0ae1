import { connect } from '@sse/client'
import { z } from 'zod'

// Shared with the server, which publishes with createHub<Events>().
export type Events = { price: { symbol: string; usd: number }; message: string }
const Price = z.object({ symbol: z.string(), usd: z.number() })

export async function firstPrice(url: string): Promise<number> {
  const stream = connect<Events>(url, { json: true, schemas: { price: Price } })
  // A price that fails the schema is reported as SSE_INVALID_EVENT and skipped.
  for await (const event of stream) {
    if (event.type === 'price') return event.value.usd // leaving the loop closes the stream
  }
  throw new Error('The stream ended before a price')
}
