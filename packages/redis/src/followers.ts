/**
 * The followers of one shard in this process (usually one hub): their
 * `ready` promises, and handing each of them every event and reset, so that
 * one that throws neither stops the others nor the shard's state machine.
 */

import { type FollowHandlers, type Following, type ShardEvent, SseError } from '@sse/core'
import type { Report } from './errors'

interface Follower {
  handlers: FollowHandlers
  // Set until `ready` settles.
  resolve?: ((position: string) => void) | undefined
  reject?: ((error: unknown) => void) | undefined
}

/** The followers of shard `shard`; see the file comment. */
export class Followers {
  readonly #shard: number
  readonly #report: Report
  readonly #all = new Set<Follower>()
  // The start position, once known: later followers are ready at once.
  #started: (() => string) | undefined

  constructor(shard: number, report: Report) {
    this.#shard = shard
    this.#report = report
  }

  get size(): number {
    return this.#all.size
  }

  /** Adds a follower; `onStop` runs when it stops. */
  add(handlers: FollowHandlers, onStop: () => void): Following {
    const follower: Follower = { handlers }
    const ready = new Promise<string>((resolve, reject) => {
      if (this.#started !== undefined) resolve(this.#started())
      else Object.assign(follower, { resolve, reject })
    })
    // Callers see the rejection; this only keeps an unobserved one quiet.
    ready.catch(() => undefined)
    this.#all.add(follower)
    return {
      ready,
      stop: () => {
        if (!this.#all.delete(follower)) return
        follower.reject?.(this.#stopped())
        onStop()
      },
    }
  }

  /** Following has started after `position`; `current` gives the position for later followers. */
  start(position: string, current: () => string): void {
    this.#started = current
    for (const follower of this.#all) {
      follower.resolve?.(position)
      follower.resolve = undefined
      follower.reject = undefined
    }
  }

  event(event: ShardEvent): void {
    this.#each((handlers) => handlers.event(event), 'threw')
  }

  reset(position: string): void {
    this.#each((handlers) => handlers.reset(position), 'threw on reset')
  }

  /** Forgets every follower; a pending `ready` rejects. */
  stop(): void {
    for (const follower of this.#all) follower.reject?.(this.#stopped())
    this.#all.clear()
  }

  #each(call: (handlers: FollowHandlers) => void, what: string): void {
    // A copy: a handler may stop following (its own or another follower).
    for (const follower of [...this.#all]) {
      if (!this.#all.has(follower)) continue
      try {
        call(follower.handlers)
      } catch (error) {
        this.#report(`A follower of shard ${this.#shard} ${what}`, error)
      }
    }
  }

  #stopped(): SseError {
    return new SseError('SSE_STORE', `Stopped following shard ${this.#shard}`)
  }
}
