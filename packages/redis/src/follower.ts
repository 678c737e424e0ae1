/**
 * Following one shard live: its sharded pub/sub messages, checked against
 * the log, so that each event is handed over once, in log order, and a lost
 * or rewound log is never passed over in silence.
 *
 *   starting ──(channel subscribed, last id read)──► live ◄──► catching-up
 *      │                                              │             │
 *      └───────────────────(stop)──► stopped ◄────────┴─────────────┘
 *
 * - starting: `SSUBSCRIBE`, confirmed, then `GET` of the shard's last id:
 *   that is the cursor (the last id handed over) and where following starts.
 *   Messages arriving meanwhile are queued; then `ready` resolves and the
 *   queue is drained by the live rules (those at or before the cursor
 *   predate the start).
 * - live: each message `<prev> <id> <payload>` against the cursor:
 *   - `id` <= cursor: a duplicate if it is one we handed over (a bounded map
 *     of recent id -> prev); the same id with another `prev` means the log
 *     was rewound: `reset(prev)`, then hand it over; an id the map should
 *     hold but does not, likewise. Older than everything the map remembers
 *     (or before the start): dropped, and the log's tail is checked.
 *   - `prev` = cursor: the next event: hand it over, cursor = id.
 *   - `prev` > cursor: a hole (a message lost while the connection was down,
 *     say): catch up from the log, the message is queued.
 *   - `prev` < cursor < `id`: events we handed over are gone from the log (a
 *     failover to a replica that lagged, a restart without persistence):
 *     `reset(prev)`, then hand it over.
 * - catching-up: `XRANGE` after the cursor (read.ts), page by page, handing
 *   each entry over; live messages are queued (bounded in size: past it
 *   they are dropped and the log is read again instead). A gap where every
 *   entry the log still holds is newer than the cursor (trimmed past it, a
 *   log started anew) resets to just before the first of them and reads on:
 *   what is gone is lost, what is kept is handed over. Any other gap (the
 *   cursor is within the log but not in it) resets to the log's last id.
 *   Then the queue is drained by the live rules.
 * - check (after every resubscription, and every `checkInterval` ms while
 *   live): `GET` the log's last id. Ahead of the cursor: catch up. Behind
 *   the cursor it had when asked (and nothing happened since): the log lost
 *   what we handed over: reset to it.
 * - stopped: `SUNSUBSCRIBE`d by the engine; a pending `ready` rejects.
 */

import type { FollowHandlers, Following } from '@sse/core'
import type { Report } from './errors'
import { Followers } from './followers'
import { parsePayload, type ShardMessage } from './payload'
import { compareIds, toPosition } from './positions'
import type { ReadOutcome } from './read'
import type { Entry } from './replies'

/** What a follower needs from the engine, bound to its shard. */
export interface ShardSource {
  /** Subscribes the shard's channel; resolves once confirmed. */
  subscribe(): Promise<void>
  /** The shard's last generated id (`0-0` for none). */
  lastId(): Promise<string>
  readAfter(from: string, onPage: (entries: Entry[]) => void): Promise<ReadOutcome>
  report: Report
}

type State = 'starting' | 'live' | 'catching-up' | 'stopped'

/**
 * The `prev` remembered for the first entry read after a reset to before the
 * log's oldest entry: its real predecessor was trimmed, so its live message
 * (whatever `prev` it carries) is a duplicate, not a rewound log.
 */
const TRIMMED_PREV = '?'

/** Delivered ids remembered for duplicate detection (about 100 kB). */
const RECENT = 1024
/** Payload characters of live messages held while starting or catching up, before relying on the log instead. */
const MAX_QUEUED_CHARS = 1_048_576

/** One shard's live follow state; see the file comment. */
export class ShardFollower {
  readonly #shard: number
  readonly #source: ShardSource
  readonly #followers: Followers
  #state: State = 'starting'
  #cursor = '0-0'
  #queue: ShardMessage[] = []
  #queuedChars = 0
  #overflowed = false
  #recent = new Map<string, string>()
  // Bumped by every reset: a check's answer is stale after one.
  #epoch = 0
  #checking = false
  #recheck = false
  #timer: ReturnType<typeof setTimeout> | undefined
  #wake: (() => void) | undefined

  constructor(shard: number, source: ShardSource) {
    this.#shard = shard
    this.#source = source
    this.#followers = new Followers(shard, source.report)
    void this.#start()
  }

  /** Whether no one follows any more (the engine then stops and forgets it). */
  get idle(): boolean {
    return this.#followers.size === 0
  }

  /** Adds a follower of this shard; `onStop` runs when it stops. */
  add(handlers: FollowHandlers, onStop: () => void): Following {
    return this.#followers.add(handlers, onStop)
  }

  /** A live message from the shard's channel. */
  message(message: ShardMessage): void {
    if (this.#state === 'live') {
      if (this.#apply(message)) return
      this.#queue.push(message)
      this.#catchUp()
    } else if (this.#state !== 'stopped') {
      this.#queuedChars += message.payload.length
      if (this.#queuedChars > MAX_QUEUED_CHARS) {
        // The log has them all: read it again once this pass is done.
        this.#queue = []
        this.#queuedChars = message.payload.length
        this.#overflowed = true
      }
      this.#queue.push(message)
    }
  }

  /** Compares the log's last id with the cursor (see the file comment). */
  check(): void {
    if (this.#state !== 'live') {
      this.#recheck = this.#state !== 'stopped'
      return
    }
    if (this.#checking) return
    this.#checking = true
    const asked = this.#cursor
    const epoch = this.#epoch
    this.#source.lastId().then(
      (last) => {
        this.#checking = false
        if (this.#state !== 'live') return
        if (compareIds(last, this.#cursor) > 0) this.#catchUp()
        else if (compareIds(last, asked) < 0 && this.#cursor === asked && this.#epoch === epoch) {
          this.#reset(last)
        }
      },
      (error: unknown) => {
        this.#checking = false
        this.#source.report(`Checking shard ${this.#shard} against the log failed`, error)
      },
    )
  }

  /** Stops following: pending `ready`s reject, timers end. */
  stop(): void {
    this.#state = 'stopped'
    this.#queue = []
    this.#queuedChars = 0
    clearTimeout(this.#timer)
    this.#wake?.()
    this.#followers.stop()
  }

  async #start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#source.subscribe()
        if (this.#stopped()) return
        this.#cursor = await this.#source.lastId()
        break
      } catch (error) {
        if (this.#stopped()) return
        this.#source.report(`Could not start following shard ${this.#shard}; retrying`, error)
        await this.#pause(backoff(attempt))
        if (this.#stopped()) return
      }
    }
    if (this.#stopped()) return
    this.#followers.start(toPosition(this.#cursor), () => toPosition(this.#cursor))
    this.#state = 'catching-up'
    // After the `ready` callbacks: no event reaches a follower before them.
    queueMicrotask(() => this.#drain())
  }

  /** Applies the rules to a message; false when it reveals a hole. */
  #apply({ prev, id, payload }: ShardMessage): boolean {
    if (compareIds(id, this.#cursor) <= 0) {
      const known = this.#recent.get(id)
      if (known === prev || known === TRIMMED_PREV) return true
      // Older than anything remembered: from before the start, or a
      // duplicate of a long read. If the log lost events, the check sees it.
      const oldest = this.#recent.keys().next().value
      if (known === undefined && (oldest === undefined || compareIds(id, oldest) < 0)) {
        this.check()
        return true
      }
      this.#reset(prev)
    } else {
      const order = compareIds(prev, this.#cursor)
      if (order > 0) return false
      if (order < 0) this.#reset(prev)
    }
    this.#deliver(id, prev, payload)
    return true
  }

  #deliver(id: string, prev: string, payload: string | undefined): void {
    this.#cursor = id
    this.#recent.set(id, prev)
    if (this.#recent.size > RECENT) this.#recent.delete(this.#recent.keys().next().value!)
    const event = payload === undefined ? undefined : parsePayload(payload)
    if (event === undefined) {
      this.#source.report(
        `Skipped entry ${id} of shard ${this.#shard}`,
        new Error('not an event this package wrote'),
      )
      return
    }
    this.#followers.event({ position: toPosition(id), ...event })
  }

  #reset(to: string): void {
    const position = toPosition(to)
    this.#source.report(
      `Shard ${this.#shard}'s log does not hold what this process delivered (a failover, a restart, trimming); following goes on from ${position}`,
      new Error(`reset from ${this.#cursor} to ${to}`),
    )
    this.#cursor = to
    this.#recent.clear()
    this.#epoch++
    this.#followers.reset(position)
  }

  #catchUp(): void {
    this.#state = 'catching-up'
    void this.#read()
  }

  async #read(): Promise<void> {
    // Set when this read starts just before the log's oldest entry.
    let trimmed = false
    let resets = 0
    for (let attempt = 1; ; attempt++) {
      this.#overflowed = false
      try {
        const outcome = await this.#source.readAfter(this.#cursor, (entries) => {
          for (const entry of entries) {
            if (this.#stopped()) continue
            this.#deliver(entry.id, trimmed ? TRIMMED_PREV : this.#cursor, entry.payload)
            trimmed = false
          }
        })
        if (this.#stopped()) return
        if (outcome.gap) {
          // Read on from before what the log keeps, unless that is where this
          // read started (entries deleted inside it): then from its end.
          const from = outcome.resumeFrom
          if (from !== undefined && from !== this.#cursor) {
            this.#reset(from)
            trimmed = true
            // Trimming outran the read again: each pass resyncs every session, so wait first.
            if (++resets > 1) await this.#pause(backoff(resets - 1))
            if (this.#stopped()) return
            continue
          }
          trimmed = false
          this.#reset(outcome.lastId)
        }
        // Live messages were dropped meanwhile: read again from the log.
        if (this.#overflowed) continue
        break
      } catch (error) {
        if (this.#stopped()) return
        this.#source.report(`Catching up on shard ${this.#shard} failed; retrying`, error)
        await this.#pause(backoff(attempt))
        if (this.#stopped()) return
      }
    }
    this.#drain()
  }

  #drain(): void {
    if (this.#stopped()) return
    if (this.#overflowed) {
      void this.#read()
      return
    }
    while (this.#queue.length > 0) {
      const message = this.#queue.shift()!
      if (!this.#apply(message)) {
        this.#queue.unshift(message)
        void this.#read()
        return
      }
    }
    this.#queuedChars = 0
    this.#state = 'live'
    if (this.#recheck) {
      this.#recheck = false
      this.check()
    }
  }

  // A method, so that TypeScript does not narrow the state across awaits.
  #stopped(): boolean {
    return this.#state === 'stopped'
  }

  /** Waits `ms`, or until stopped. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve
      this.#timer = setTimeout(resolve, ms)
      this.#timer.unref?.()
    })
  }
}

/** Exponential from 100 ms, capped at 2 s, with jitter so processes do not retry in step. */
function backoff(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt - 1, 10), 2000) + Math.floor(Math.random() * 100)
}
