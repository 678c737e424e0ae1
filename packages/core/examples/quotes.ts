import { createHub, sse } from '@sse/core'

export const hub = createHub()

// A ticker. A client that falls behind gets the newest quote of every
// symbol, not a disconnect and not a backlog of stale prices: while a quote
// is still queued for it, a newer one with the same key replaces it.
export const GET = sse((session) => hub.subscribe(session, 'quotes/*').ready, {
  slowClient: 'conflate',
  // Unkeyed events, or more symbols than fit: close (it reconnects and replays).
  conflateFallback: 'close',
  maxQueueBytes: 256 * 1024,
})

export function quote(symbol: string, price: number): Promise<void> {
  return hub.publish(`quotes/${symbol}`, { symbol, price }, { event: 'quote', key: symbol })
}
