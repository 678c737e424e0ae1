// This instance's tabs, and their count on the `presence` topic.
//
// Each instance publishes its own count, `{ instance, tabs, at }`, once per
// burst of joins and leaves (a drop closes every stream at once) and every
// `refresh` ms; a page adds up the instances it heard from recently, so an
// instance that died without a word drops out of the total.
import type { Hub, Session } from '@sse/core'
import { PRESENCE } from './topics'

/** One instance's count, as published on `presence`. */
export interface PresenceCount {
  instance: string
  tabs: number
  /** Server time, ms since the epoch. */
  at: number
}

/** Options for {@link trackPresence}. */
export interface PresenceOptions {
  /** The name shown for this instance (`:3000`). */
  instance: () => string
  /** Milliseconds between unprompted counts. @defaultValue 10_000 */
  refresh?: number
  onError: (error: unknown) => void
}

/** The tabs of one instance. */
export interface Presence {
  /** Counts a tab until its session closes. */
  add(session: Session): void
  /** The tabs open now. */
  sessions(): Session[]
  /** Stops publishing, after a last count of 0 so other instances' pages drop this one at once. */
  close(): Promise<void>
}

/** Counts the tabs of this instance and publishes the count to {@link PRESENCE}. */
export function trackPresence(hub: Hub, options: PresenceOptions): Presence {
  const tabs = new Set<Session>()
  let closed = false
  let pending = false

  const publish = async (count: number): Promise<void> => {
    const data: PresenceCount = { instance: options.instance(), tabs: count, at: Date.now() }
    await hub.publish(PRESENCE, data, { event: 'presence' })
  }
  const announce = (): void => {
    if (pending || closed) return
    pending = true
    queueMicrotask(() => {
      pending = false
      if (!closed) publish(tabs.size).catch(options.onError)
    })
  }
  const timer = setInterval(announce, options.refresh ?? 10_000)
  timer.unref()

  return {
    add(session) {
      if (session.closed) return
      tabs.add(session)
      announce()
      session.signal.addEventListener(
        'abort',
        () => {
          tabs.delete(session)
          announce()
        },
        { once: true },
      )
    },
    sessions: () => [...tabs],
    async close() {
      if (closed) return
      closed = true
      clearInterval(timer)
      await publish(0).catch(options.onError)
    },
  }
}
