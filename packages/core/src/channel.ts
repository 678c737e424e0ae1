import { encode } from './encode'
import { SseError } from './errors'
import type { EventStore, ReadAfterResult } from './replay'
import { backgroundTimer, defaultSerialize, fanOutClock, kOnClose, type Session } from './session'

/** Options for {@link createChannel}. */
export interface ChannelOptions {
  /** The stream name in the event store. @defaultValue 'default' */
  name?: string
  /**
   * Keeps history for Last-Event-ID replay and assigns event ids. Without a
   * store, a channel is live-only and ids are whatever `broadcast` is given.
   */
  store?: EventStore
  /** Turns broadcast data into text. @defaultValue strings as they are, else `JSON.stringify` */
  serialize?: (data: unknown) => string
  /** Called after a session joined. */
  onJoin?: (session: Session) => void
  /** Called after a session left (explicitly or because it closed). */
  onLeave?: (session: Session) => void
  /**
   * Called when a session's Last-Event-ID cannot be resumed from: it expired
   * or the store does not know it. The session still joins and gets live
   * events; unless `resyncEvent` is `false` it is also sent that event.
   */
  onGap?: (session: Session, gap: GapInfo) => void
  /**
   * The event sent to a client whose Last-Event-ID cannot be resumed, so it
   * never misses events silently. Its data is JSON `{ lastEventId, reason }`
   * and its id, when the store knows one, is the newest id, so the client's
   * next reconnect resumes from there. `false` sends nothing.
   *
   * @defaultValue 'resync'
   */
  resyncEvent?: string | false
  /** Called when the store fails while replaying to a session. */
  onError?: (error: SseError, session?: Session) => void
  /**
   * The most bytes of live events held for one session while its replay is
   * read; past it, the session is closed (it reconnects and replays again).
   *
   * @defaultValue 1_048_576
   */
  maxReplayBufferBytes?: number
  /**
   * With a shared store (one that can `subscribe`): how long a broadcast waits
   * for its event to come back through the log before it rejects with
   * `SSE_STORE`. The event was appended; other processes may still deliver it.
   *
   * @defaultValue 30_000
   */
  deliveryTimeout?: number
}

/** Why a session could not resume. */
export interface GapInfo {
  lastEventId: string
  reason: 'expired' | 'unknown' | 'error'
}

/** Options for {@link Channel.broadcast}. */
export interface BroadcastOptions {
  /** The event type. */
  event?: string
  /** The event id, for channels without a store (a store assigns ids itself). */
  id?: string
  /**
   * Only sessions for which this returns `true` receive the event. Not allowed
   * on a channel with a store: a replay could not honour it.
   */
  filter?: (session: Session) => boolean
}

/** What a broadcast did. */
export interface BroadcastResult {
  /** The event id (assigned by the store, or the one given). */
  id: string | undefined
  /** How many sessions the frame was written or queued to. */
  delivered: number
}

/** Options for {@link Channel.join}. */
export interface JoinOptions {
  /** Resume after this id instead of the session's own `lastEventId`. */
  lastEventId?: string | undefined
}

/** A set of sessions that receive the same events. */
export interface Channel {
  /** The stream name. */
  readonly name: string
  /** How many sessions are in the channel. */
  readonly size: number
  /** The sessions, for iteration. */
  sessions(): IterableIterator<Session>
  /**
   * Adds a session. With a store and a Last-Event-ID, first replays every
   * event after that id, then live events, with none lost or repeated.
   * Resolves when the replay has been written. On a closed channel the
   * session is closed instead (its client reconnects).
   */
  join(session: Session, options?: JoinOptions): Promise<void>
  /** Removes a session; returns whether it was a member. */
  leave(session: Session): boolean
  /**
   * Serializes and encodes the event once and writes the same bytes to every
   * session. Broadcasts are delivered in call order. With a shared store
   * (one that can `subscribe`), resolves once the event came back through the
   * log and was delivered here; sessions in other processes get it the same way.
   */
  broadcast(data: unknown, options?: BroadcastOptions): Promise<BroadcastResult>
  /** Stops the store subscription and closes every session. Idempotent. */
  close(): void
}

/** A broadcast waiting for its event to come back through a shared store. */
interface Waiting {
  resolve: (delivered: number) => void
  reject: (error: SseError) => void
  timer: ReturnType<typeof setTimeout>
}

interface Member {
  session: Session
  // Stops watching the session for close (see watchClose).
  unwatch: () => void
  // Live frames held back while this member's replay is read.
  held: Array<{ id: string | undefined; frame: Uint8Array }> | undefined
  heldBytes: number
  // Ids this member's replay sent whose live delivery may still be coming
  // (appended before the history was read, fanned out after).
  replayed: Set<string> | undefined
}

const textEncoder = /* @__PURE__ */ new TextEncoder()
const UNSAFE_ID = /[\r\n\0]/

/**
 * Creates a channel: a set of sessions with encode-once broadcast and, given a
 * store, Last-Event-ID replay.
 *
 * @example
 * ```ts
 * const prices = createChannel({ store: new MemoryEventStore() })
 * prices.join(session)
 * await prices.broadcast({ usd: 101.5 }, { event: 'price' })
 * ```
 */
export function createChannel(options: ChannelOptions = {}): Channel {
  const name = options.name ?? 'default'
  const store = options.store
  const serialize = options.serialize ?? defaultSerialize
  const resyncEvent = options.resyncEvent ?? 'resync'
  const maxHeld = options.maxReplayBufferBytes ?? 1_048_576
  const members = new Map<Session, Member>()
  // Broadcasts through an async store complete in call order through this chain.
  let tail: Promise<unknown> = Promise.resolve()
  let inFlight = 0
  let closed = false

  // A store that can subscribe is shared between processes: fan out what the
  // log delivers (every process's events, in log order), never what this
  // process appended itself, so every process delivers the same sequence.
  const shared = store?.subscribe !== undefined
  // Broadcasts waiting for the subscription to deliver their id, and ids the
  // subscription delivered before their append returned. Only recorded while
  // an append of ours is in flight: other processes' events need no record.
  const waiting = new Map<string, Waiting>()
  const deliveredEarly = new Map<string, number>()
  let appending = 0
  const deliveryTimeout = options.deliveryTimeout ?? 30_000
  const unsubscribe = shared
    ? store!.subscribe!(name, (stored) => {
        const body = encode({ data: stored.data, event: stored.event })
        const delivered = fanOut(withStoreId(stored.id, body), stored.id, undefined).delivered
        const pending = waiting.get(stored.id)
        if (pending !== undefined) {
          waiting.delete(stored.id)
          clearTimeout(pending.timer)
          pending.resolve(delivered)
        } else if (appending > 0) {
          deliveredEarly.set(stored.id, delivered)
          // Bounded; the delivery timeout covers an id evicted by a flood.
          if (deliveredEarly.size > 8192) deliveredEarly.delete(deliveredEarly.keys().next().value!)
        }
      })
    : undefined

  function fanOut(
    frame: Uint8Array,
    id: string | undefined,
    filter: BroadcastOptions['filter'],
  ): BroadcastResult {
    let delivered = 0
    fanOutClock.now = Date.now()
    try {
      delivered = writeAll(frame, id, filter)
    } finally {
      fanOutClock.now = 0
    }
    return { id, delivered }
  }

  function writeAll(
    frame: Uint8Array,
    id: string | undefined,
    filter: BroadcastOptions['filter'],
  ): number {
    let delivered = 0
    for (const member of members.values()) {
      if (filter !== undefined && !filter(member.session)) continue
      if (member.held !== undefined) {
        member.heldBytes += frame.byteLength
        if (member.heldBytes > maxHeld) {
          member.session.close()
          continue
        }
        member.held.push({ id, frame })
        delivered++
      } else if (!alreadyReplayed(member, id) && member.session.write(frame)) {
        delivered++
      }
    }
    return delivered
  }

  function withStoreId(id: string, body: string): Uint8Array {
    if (typeof id !== 'string' || UNSAFE_ID.test(id)) {
      throw new SseError('SSE_STORE', `Event store returned an unusable id: ${JSON.stringify(id)}`)
    }
    return textEncoder.encode('id: ' + id + '\n' + body)
  }

  function broadcast(
    data: unknown,
    broadcastOptions: BroadcastOptions = {},
  ): Promise<BroadcastResult> {
    const { event, filter } = broadcastOptions
    if (closed) throw new TypeError('broadcast: the channel is closed')
    const text = serialize(data)
    if (store === undefined) {
      // Validates event and id, so bad input throws here, before anything is written.
      const frame = textEncoder.encode(encode({ data: text, event, id: broadcastOptions.id }))
      return Promise.resolve(fanOut(frame, broadcastOptions.id, filter))
    }
    if (broadcastOptions.id !== undefined) {
      throw new TypeError('broadcast: this channel has a store, which assigns ids; omit `id`')
    }
    if (filter !== undefined) {
      // Replay cannot know who was filtered out: it would leak the event.
      throw new TypeError(
        'broadcast: `filter` is not replayable; use a channel per audience with a store',
      )
    }
    // The body without the id line, validated now; the id line is prepended
    // once the store has assigned it (field order within a frame is free).
    const body = encode({ data: text, event })
    let appended: string | Promise<string>
    // Counted before the call: a shared log may deliver our event even before
    // append() returns.
    if (shared) appending++
    try {
      appended = store.append(name, { data: text, event })
    } catch (error) {
      if (shared) appending--
      return Promise.reject(storeError(error))
    }
    if (shared) return delivery(appended)
    if (typeof appended === 'string' && inFlight === 0) {
      return Promise.resolve(fanOut(withStoreId(appended, body), appended, undefined))
    }
    inFlight++
    const result = tail.then(async () => {
      try {
        const id = await appended
        return fanOut(withStoreId(id, body), id, undefined)
      } catch (error) {
        throw storeError(error)
      } finally {
        inFlight--
      }
    })
    tail = result.catch(() => undefined)
    return result
  }

  /** For a shared store: resolves when the subscription has delivered the appended id here. */
  async function delivery(appended: string | Promise<string>): Promise<BroadcastResult> {
    let id: string
    try {
      id = await appended
    } catch (error) {
      throw storeError(error)
    } finally {
      appending--
    }
    const early = deliveredEarly.get(id)
    if (early !== undefined) {
      deliveredEarly.delete(id)
      return { id, delivered: early }
    }
    if (appending === 0) deliveredEarly.clear()
    if (closed) throw new SseError('SSE_STORE', `Channel closed before event ${id} was delivered`)
    return new Promise((resolve, reject) => {
      const timer = backgroundTimer(() => {
        waiting.delete(id)
        reject(
          new SseError(
            'SSE_STORE',
            `Event ${id} was appended but did not come back through the store within ${deliveryTimeout} ms`,
          ),
        )
      }, deliveryTimeout)
      waiting.set(id, { resolve: (delivered) => resolve({ id, delivered }), reject, timer })
    })
  }

  function leave(session: Session): boolean {
    const member = members.get(session)
    if (member === undefined) return false
    members.delete(session)
    member.unwatch()
    options.onLeave?.(session)
    return true
  }

  async function join(session: Session, joinOptions: JoinOptions = {}): Promise<void> {
    if (closed) {
      // A request that raced a shutdown is not a mistake: end its stream, and
      // the client reconnects (to another instance behind a load balancer).
      session.close()
      return
    }
    if (session.closed || members.has(session)) return
    const lastEventId = 'lastEventId' in joinOptions ? joinOptions.lastEventId : session.lastEventId
    const replay = store !== undefined && lastEventId !== undefined
    const member: Member = {
      session,
      unwatch: watchClose(session, () => leave(session)),
      held: replay ? [] : undefined,
      heldBytes: 0,
      replayed: undefined,
    }
    members.set(session, member)
    options.onJoin?.(session)
    if (!replay) return

    // The member is registered BEFORE the history is read: every event is
    // then in the history, or held as live, or both (deduplicated below).
    let result: ReadAfterResult | { gap: true; reason: 'error' }
    try {
      result = await store.readAfter(name, lastEventId)
    } catch (error) {
      options.onError?.(storeError(error), session)
      result = { gap: true, reason: 'error' }
    }
    const held = member.held ?? []
    member.held = undefined
    if (session.closed) return

    if (result.gap) {
      options.onGap?.(session, { lastEventId, reason: result.reason })
      if (resyncEvent !== false) {
        const latestId = 'latestId' in result ? result.latestId : undefined
        const data = JSON.stringify({ lastEventId, reason: result.reason })
        session.write(textEncoder.encode(encode({ data, event: resyncEvent, id: latestId })))
      }
    } else if (result.events.length > 0) {
      member.replayed = new Set()
      for (const stored of result.events) {
        member.replayed.add(stored.id)
        const frame = encode({ data: stored.data, event: stored.event, id: stored.id })
        session.write(textEncoder.encode(frame))
      }
    }
    for (const { id, frame } of held) {
      if (!alreadyReplayed(member, id)) session.write(frame)
    }
  }

  function close(): void {
    if (closed) return
    closed = true
    unsubscribe?.()
    // Broadcasts still waiting for their event to come back never will.
    for (const [id, { reject, timer }] of waiting) {
      clearTimeout(timer)
      reject(new SseError('SSE_STORE', `Channel closed before event ${id} was delivered`))
    }
    waiting.clear()
    deliveredEarly.clear()
    for (const session of [...members.keys()]) session.close()
  }

  return {
    name,
    get size() {
      return members.size
    },
    sessions: () => members.keys(),
    join,
    leave,
    broadcast,
    close,
  }
}

/**
 * Whether a live event was already sent to this member by its replay. Live
 * events arrive in log order, so the first one that was not replayed means
 * every later one is new too: the set is dropped then.
 */
function alreadyReplayed(member: Member, id: string | undefined): boolean {
  const replayed = member.replayed
  if (replayed === undefined) return false
  if (id !== undefined && replayed.delete(id)) return true
  member.replayed = undefined
  return false
}

/**
 * Calls `onClose` when the session closes; returns an unwatch function. Our
 * sessions have a cheap internal hook; any other `Session` implementation is
 * watched through its signal.
 */
function watchClose(session: Session, onClose: () => void): () => void {
  const hook = (session as { [kOnClose]?: (listener: () => void) => () => void })[kOnClose]
  if (hook !== undefined) return hook.call(session, onClose)
  session.signal.addEventListener('abort', onClose, { once: true })
  return () => session.signal.removeEventListener('abort', onClose)
}

function storeError(error: unknown): SseError {
  if (error instanceof SseError) return error
  return new SseError('SSE_STORE', 'Event store operation failed', { cause: error })
}
