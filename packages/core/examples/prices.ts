import { createHub, sse } from '@sse/core'

// One hub per process: topics, their recent history, the open streams.
export const hub = createHub()

// A Next.js route handler, a Bun/Deno server, a Worker: Request in, Response out.
// Reconnecting clients get every event they missed (Last-Event-ID), then live ones.
export const GET = sse((session) => hub.subscribe(session, 'prices').ready)

// Publishing reaches every open stream subscribed to the topic.
export async function POST(request: Request): Promise<Response> {
  const { usd } = (await request.json()) as { usd: number }
  await hub.publish('prices', { usd }, { event: 'price' })
  return new Response(null, { status: 204 })
}
