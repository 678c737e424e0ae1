import { type Channel, createParser, createSession } from '@sse/core'

/** A chart point as broadcast on the `point` event. */
export interface Point {
  /** Position in the chart's sequence: consecutive, so a page can prove it missed nothing. */
  seq: number
  value: number
  /** Server time, ms since the epoch. */
  t: number
}

/** A notification as broadcast on the `notice` event. */
export interface Notice {
  text: string
  at: number
  /** The instance that received the POST. */
  from: string
}

/** What a page needs on first load: the recent events, with their ids. */
export interface Recent {
  points: Array<Point & { id: string }>
  notices: Array<Notice & { id: string }>
  /** The newest id the channel delivered, if any. */
  lastId: string | undefined
}

/**
 * Follows a channel as one more member, so a new page starts with the last
 * chart points and notifications instead of an empty screen. It sees exactly
 * the frames every browser sees, in the same order, whichever process (or
 * Redis) they came from, so the snapshot and the live stream line up.
 */
export function recordRecent(
  channel: Channel,
  limits: { points: number; notices: number },
): { readonly recent: Recent; readonly lastPoint: (Point & { id: string }) | undefined } {
  const recent: Recent = { points: [], notices: [], lastId: undefined }
  const parser = createParser({
    onEvent({ type, data, lastEventId }) {
      recent.lastId = lastEventId
      if (type === 'point') {
        recent.points.push({ ...(JSON.parse(data) as Point), id: lastEventId })
        if (recent.points.length > limits.points) recent.points.shift()
      } else if (type === 'notice') {
        recent.notices.push({ ...(JSON.parse(data) as Notice), id: lastEventId })
        if (recent.notices.length > limits.notices) recent.notices.shift()
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
      signal: new AbortController().signal,
    },
    { retry: false, heartbeat: false },
  )
  void channel.join(session)
  return {
    recent,
    get lastPoint() {
      return recent.points.at(-1)
    },
  }
}
