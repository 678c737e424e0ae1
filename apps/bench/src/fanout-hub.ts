/**
 * Ours, as every fan-out server runs it: a core hub with one topic that every
 * session subscribes to, bound to a server through one of our `sse()` entry
 * points (node-http's, `@sse/hono`'s, core's Web handler), with no retry
 * hint and no heartbeat. Not in `fanout-shared.ts`: the clients load that.
 */
import { createHub, type Session } from '@sse/core'
import { EVENT_NAME, payload, type ServedContender } from './fanout-shared'

export function hubContender<Handler>(
  bind: (
    handler: (session: Session) => Promise<void>,
    options: { retry: false; heartbeat: false },
  ) => Handler,
): ServedContender & { handler: Handler } {
  const hub = createHub()
  return {
    handler: bind((session) => hub.subscribe(session, 'fanout').ready, {
      retry: false,
      heartbeat: false,
    }),
    connections: () => hub.size,
    publish: async (seq, sentAt) => {
      await hub.publish('fanout', payload(seq, sentAt), { event: EVENT_NAME })
      // Every session subscribes to the one topic; the clients count what arrived.
      return hub.size
    },
  }
}
