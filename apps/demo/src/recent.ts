import { createParser, createSession, type Hub } from '@sse/core'
import type { PresenceCount } from './presence'
import { CHART, NOTICES, PRESENCE } from './topics'

/** A chart point as published on `chart` (event `point`). */
export interface Point {
  /** Position in the chart's sequence: consecutive, so a page can prove it missed nothing. */
  seq: number
  value: number
  /** Server time, ms since the epoch. */
  t: number
}

/** A notification as published on `notices` or `users/<name>` (event `notice`). */
export interface Notice {
  /** Unique per notification: a page counts a second copy as a duplicate. */
  id: string
  text: string
  at: number
  /** The instance that received the POST. */
  from: string
  /** The user it was sent to, or `null` for everyone. */
  to: string | null
}

/** What a page needs on a first visit: the recent shared events. */
export interface Recent {
  points: Point[]
  /** Broadcast notices only: private ones are not kept, so no tab can be handed another user's. */
  notices: Notice[]
  /** Each instance's latest count, if heard from within {@link PRESENCE_TTL}. */
  presence: PresenceCount[]
}

/** How long an instance's count stands without being refreshed. */
export const PRESENCE_TTL = 30_000

/**
 * Follows the shared topics as one more subscriber, so a new page starts with
 * the last chart points and notifications instead of an empty screen. It sees
 * exactly the frames every tab sees, in the same order, whichever instance
 * (or Redis) they came from, so a snapshot taken when a tab subscribes lines
 * up with the live events that follow it.
 */
export function recordRecent(
  hub: Hub,
  limits: { points: number; notices: number },
): { recent(): Recent; readonly lastPoint: Point | undefined } {
  const points: Point[] = []
  const notices: Notice[] = []
  const presence = new Map<string, PresenceCount>()
  const parser = createParser({
    onEvent({ type, data }) {
      if (type === 'point') {
        points.push(JSON.parse(data) as Point)
        if (points.length > limits.points) points.shift()
      } else if (type === 'notice') {
        notices.push(JSON.parse(data) as Notice)
        if (notices.length > limits.notices) notices.shift()
      } else if (type === 'presence') {
        const count = JSON.parse(data) as PresenceCount
        presence.set(count.instance, count)
      }
    },
  })
  const session = createSession(
    {
      write(chunk) {
        parser.feed(chunk)
        return true
      },
      onDrain: () => undefined,
      close: () => undefined,
      // Never gone: it lives as long as the hub.
      onClientGone: () => undefined,
    },
    { retry: false, heartbeat: false },
  )
  hub.subscribe(session, [CHART, NOTICES, PRESENCE])
  return {
    recent() {
      const since = Date.now() - PRESENCE_TTL
      for (const [instance, count] of presence) if (count.at < since) presence.delete(instance)
      return { points, notices, presence: [...presence.values()] }
    },
    get lastPoint() {
      return points.at(-1)
    },
  }
}
