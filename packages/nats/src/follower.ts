/**
 * Following one shard live for every follower of it in this process (one
 * hub, usually): one ordered consumer of the shard's subject, a cursor (the
 * last stream sequence handed over), and checks of the stream against it so
 * that a lost or recreated log is never passed over in silence.
 *
 *   starting ──(stream read, consumer created)──► live ──(stop)──► stopped
 *
 * - starting: the stream's state gives the epoch and its last sequence: that
 *   is the cursor, and where following starts (whatever shard that sequence
 *   belongs to). Once the consumer exists, every `ready` resolves with it;
 *   messages that came before are handed over right after.
 * - live: each message with a sequence after the cursor is handed over and
 *   becomes the cursor (one at or before it is a duplicate, dropped).
 * - Whenever the consumer is replaced (see consumer.ts), and every
 *   `checkInterval`, the stream's state is compared with the cursor:
 *   - another epoch: the stream was deleted and created again;
 *   - a last sequence before the cursor (as it was when the check began):
 *     the stream lost events that were handed over;
 *   either way: **reset** to the stream's last sequence (every follower's
 *   `reset`, so the hub sends `resync`), and consume from there.
 * - When a consumer is replaced (the connection came back after a drop),
 *   the limits may have removed events of this shard after the cursor
 *   before they were consumed (read.ts's rules tell): **reset** to just
 *   before the oldest event the shard kept (the stream's last sequence for
 *   a shard emptied), so sessions get `resync`, then consume what it kept
 *   (a later check of that cursor finds nothing lost). The shard's first
 *   event after the cursor is asked for too: if the consumer's first
 *   message comes after it, the limits removed it meanwhile, and the
 *   sessions get `resync` before that message. (Events removed while a live
 *   consumer lags, past its first message, are not detected: JetStream
 *   skips them, and nothing tells.)
 * - stopped: the consumer is deleted; a pending `ready` rejects.
 */

import { type FollowHandlers, type Following, type ShardEvent, SseError } from '@sse/core'
import { type Clients, OrderedConsumer } from './consumer'
import type { Report } from './errors'
import { decodeEvent } from './payload'
import { formatPosition } from './positions'
import { removedAfter } from './read'
import type { StreamAccess, StreamSnapshot } from './stream'

/** What a follower needs from the engine, bound to its shard. */
export interface FollowerSource {
  shard: number
  subject: string
  stream: string
  clients(): Promise<Clients>
  access: StreamAccess
  heartbeat: number
  report: Report
}

interface Entry {
  handlers: FollowHandlers
  // Set until `ready` settles.
  settle?: { resolve(position: string): void; reject(error: unknown): void } | undefined
}

/** One shard's live following; see the file comment. */
export class ShardFollower {
  readonly #source: FollowerSource
  readonly #entries = new Set<Entry>()
  readonly #consumer: OrderedConsumer
  #epoch = 0
  #cursor = 0
  #live = false
  // After a consumer was replaced: the sequence its first message should
  // have (the shard's first event after the cursor then), or 0.
  #expected = 0
  #stopped = false
  // Messages that arrived before the first consumer was confirmed.
  #early: Array<{ seq: number; data: Uint8Array }> | undefined = []

  constructor(source: FollowerSource) {
    this.#source = source
    this.#consumer = new OrderedConsumer({
      clients: source.clients,
      stream: source.stream,
      subject: source.subject,
      heartbeat: source.heartbeat,
      report: source.report,
      start: () => this.#startFrom(),
      created: () => this.#created(),
      message: (seq, data) => {
        if (this.#early !== undefined) this.#early.push({ seq, data })
        else this.#message(seq, data)
      },
    })
  }

  /** How many follow this shard. */
  get size(): number {
    return this.#entries.size
  }

  /** Adds a follower; `onStop` runs when it stops following. */
  add(handlers: FollowHandlers, onStop: () => void): Following {
    const entry: Entry = { handlers }
    const ready = new Promise<string>((resolve, reject) => {
      if (this.#live) resolve(this.#position())
      else entry.settle = { resolve, reject }
    })
    // The caller sees a rejection; this keeps an unobserved one quiet.
    ready.catch(() => undefined)
    this.#entries.add(entry)
    return {
      ready,
      stop: () => {
        if (!this.#entries.delete(entry)) return
        entry.settle?.reject(this.#stoppedError())
        onStop()
      },
    }
  }

  /**
   * Compares the stream's state (`snapshot`, asked for now) with the cursor;
   * see the file comment.
   */
  check(snapshot: Promise<StreamSnapshot>): void {
    if (!this.#live) return
    const asked = this.#cursor
    snapshot.then(
      (state) => {
        if (this.#stopped || !this.#compare(state, asked)) return
        this.#consumer.restart('the stream was reset')
      },
      (error: unknown) =>
        this.#source.report(
          `Checking shard ${this.#source.shard} against the stream failed`,
          error,
        ),
    )
  }

  /** Replaces the consumer (the connection came back after a drop). */
  restart(why: string): void {
    this.#consumer.restart(why)
  }

  /** Stops following: pending `ready`s reject; resolves once the consumer is deleted (or that failed). */
  stop(): Promise<void> {
    this.#stopped = true
    for (const entry of this.#entries) entry.settle?.reject(this.#stoppedError())
    this.#entries.clear()
    return this.#consumer.stop()
  }

  #position(): string {
    return formatPosition(this.#epoch, this.#cursor)
  }

  async #startFrom(): Promise<number> {
    const { access, subject } = this.#source
    const state = await access.snapshot()
    if (this.#epoch === 0) {
      this.#epoch = state.epoch
      this.#cursor = state.last
    } else if (!this.#compare(state, this.#cursor)) {
      await this.#lostAfter(state)
      // The shard's first event after the cursor, for the first message to
      // come: the limits may remove it before the consumer exists.
      this.#expected = (await access.firstOn(subject, this.#cursor + 1)) ?? 0
    }
    return this.#cursor + 1
  }

  /**
   * Resets when the stream may have removed events of this shard after the
   * cursor (unchanged meanwhile) before they were consumed; see the file comment.
   */
  async #lostAfter(state: StreamSnapshot): Promise<void> {
    const { access, subject } = this.#source
    const cursor = this.#cursor
    const removed = await removedAfter(access, subject, state, cursor)
    if (removed === false || this.#stopped || this.#cursor !== cursor) return
    if (state.epoch !== this.#epoch) return
    this.#lose(removed > cursor ? removed - 1 : Math.max(cursor, state.last))
  }

  /** Events after the cursor were removed unconsumed: resync, and go on from `to`. */
  #lose(to: number): void {
    const { shard } = this.#source
    this.#source.report(
      `Shard ${shard}: the stream removed events after ${this.#cursor} before they were consumed; its sessions get resync, then what the stream kept`,
      new Error(`events after sequence ${this.#cursor} removed by the stream's limits`),
    )
    this.#cursor = to
    this.#each((handlers, position) => handlers.reset(position), 'reset')
  }

  /** Resets when the stream is another one, or lost what was handed over; true if it did. */
  #compare(state: StreamSnapshot, asked: number): boolean {
    let why: string
    if (state.epoch !== this.#epoch) why = 'the stream was deleted and created again'
    else if (state.last < asked && this.#cursor === asked) {
      why = `the stream's last sequence is ${state.last}, ${asked} was handed over`
    } else return false
    this.#source.report(
      `Shard ${this.#source.shard}: following goes on from the stream's end, and its sessions get resync`,
      new Error(why),
    )
    this.#epoch = state.epoch
    this.#cursor = state.last
    this.#each((handlers, position) => handlers.reset(position), 'reset')
    return true
  }

  #created(): void {
    if (this.#live || this.#stopped) return
    this.#live = true
    const position = this.#position()
    for (const entry of this.#entries) {
      entry.settle?.resolve(position)
      entry.settle = undefined
    }
    // After the `ready` callbacks: no event reaches a follower before them.
    queueMicrotask(() => {
      const early = this.#early ?? []
      this.#early = undefined
      for (const { seq, data } of early) this.#message(seq, data)
    })
  }

  #message(seq: number, data: Uint8Array): void {
    if (this.#stopped || seq <= this.#cursor) return
    const expected = this.#expected
    if (expected !== 0) {
      this.#expected = 0
      // Removed between the check and the consumer's start: resync before this one.
      if (seq > expected) this.#lose(seq - 1)
    }
    this.#cursor = seq
    const event = decodeEvent(data)
    if (event === undefined) {
      this.#source.report(
        `Skipped message ${seq} of shard ${this.#source.shard}`,
        new Error('not an event this package wrote'),
      )
      return
    }
    const shardEvent: ShardEvent = { position: this.#position(), ...event }
    this.#each((handlers) => handlers.event(shardEvent), 'event')
  }

  #each(call: (handlers: FollowHandlers, position: string) => void, what: string): void {
    const position = this.#position()
    // A copy: a handler may stop following (its own or another follower).
    for (const entry of [...this.#entries]) {
      if (!this.#entries.has(entry)) continue
      try {
        call(entry.handlers, position)
      } catch (error) {
        this.#source.report(`A follower of shard ${this.#source.shard} threw on ${what}`, error)
      }
    }
  }

  #stoppedError(): SseError {
    return new SseError('SSE_STORE', `Stopped following shard ${this.#source.shard}`)
  }
}
