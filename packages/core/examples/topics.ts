import { createHub, createResponse } from '@sse/core'

// One hub per process; with @sse/redis, one per process over a shared engine.
export const hub = createHub()

// Your authentication. Here: a trusted header set by a gateway.
function userOf(request: Request): { id: string; rooms: string[] } | undefined {
  const id = request.headers.get('x-user-id')
  if (id === null || !/^\w{1,64}$/.test(id)) return undefined
  return { id, rooms: ['lobby'] }
}

// GET /events: one connection for this user's notifications, their rooms and
// every order update. The selectors are the authorization boundary: the
// server chooses them, and a reconnect replays nothing they do not match.
export function GET(request: Request): Response {
  const user = userOf(request)
  if (user === undefined) return new Response('Sign in first\n', { status: 401 })
  const selectors = [`users/${user.id}`, ...user.rooms.map((room) => `rooms/${room}`), 'orders/*']
  return createResponse(request, (session) => hub.subscribe(session, selectors).ready)
}

// Anywhere in the application:
export async function notify(userId: string, text: string): Promise<void> {
  await hub.publish(`users/${userId}`, { text }, { event: 'notification' })
}

export async function orderShipped(orderId: string, customerId: string): Promise<void> {
  // Two audiences, one event: each subscriber receives it once.
  await hub.publish([`orders/${orderId}`, `users/${customerId}`], { orderId }, { event: 'shipped' })
}
