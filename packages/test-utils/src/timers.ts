import { createHook } from 'node:async_hooks'
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'

/** Timers created since {@link trackTimers} that have neither fired nor been cleared. */
export interface TimerTracker {
  /** How many are still live. */
  readonly live: number
  /** Stops tracking. */
  stop(): void
}

/**
 * Counts every timer created from now on until it fires or is cleared. Sees
 * unref'd timers (heartbeats) too, which `process.getActiveResourcesInfo()`
 * does not list. Read `live` after {@link settle}, which lets async_hooks
 * deliver its destroy callbacks first.
 *
 * @example
 * ```ts
 * const timers = trackTimers()
 * await churn()
 * await settle(() => timers.live === 0)
 * timers.stop()
 * ```
 */
export function trackTimers(): TimerTracker {
  const live = new Set<number>()
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout') live.add(id)
    },
    destroy(id) {
      live.delete(id)
    },
  }).enable()
  return {
    get live() {
      return live.size
    },
    stop: () => void hook.disable(),
  }
}

/**
 * Polls `condition` until it holds or `timeoutMs` passes, and returns
 * quietly either way: the caller asserts what it waited for. Each poll first
 * yields two turns, so async_hooks destroy callbacks (including this loop's
 * own sleep timer) have arrived when the condition is read.
 */
export async function settle(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    await nextTurn()
    await nextTurn()
    if (condition()) return
    await sleep(10)
  }
}
