import { encode } from './encode'
import { SseError } from './errors'
import type { EventStore, ReadAfterResult } from './replay'
import { defaultSerialize, fanOutClock, kOnClose, type Session } from './session'

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
  /** Only sessions for which this returns `true` receive the event. */
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
   * Resolves when the replay has been written.
   */
  join(session: Session, options?: JoinOptions): Promise<void>
  /** Removes a session; returns whether it was a member. */
  leave(session: Session): boolean
  /**
   * Serializes and encodes the event once and writes the same bytes to every
   * session. Broadcasts are delivered in call order.
   */
  broadcast(data: unknown, options?: BroadcastOptions): Promise<BroadcastResult>
}

interface Member {
  session: Session
  // Stops watching the session for close (see watchClose).
  unwatch: () => void
  // Live frames held back while this member's replay is read.
  held: Array<{ id: string | undefined; frame: Uint8Array }> | undefined
  heldBytes: number
  // Ids already replayed to this member whose live broadcast may still be in
  // flight (appended before the history was read, fanned out after).
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
      if (member.replayed !== undefined && id !== undefined && member.replayed.delete(id)) continue
      if (member.held !== undefined) {
        member.heldBytes += frame.byteLength
        if (member.heldBytes > maxHeld) {
          member.session.close()
          continue
        }
        member.held.push({ id, frame })
        delivered++
      } else if (member.session.write(frame)) {
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
    const text = serialize(data)
    if (store === undefined) {
      // Validates event and id, so bad input throws here, before anything is written.
      const frame = textEncoder.encode(
        encode({ data: text, event, id: broadcastOptions.id } as never),
      )
      return Promise.resolve(fanOut(frame, broadcastOptions.id, filter))
    }
    if (broadcastOptions.id !== undefined) {
      throw new TypeError('broadcast: this channel has a store, which assigns ids; omit `id`')
    }
    // The body without the id line, validated now; the id line is prepended
    // once the store has assigned it (field order within a frame is free).
    const body = encode({ data: text, event } as never)
    let appended: string | Promise<string>
    try {
      appended = store.append(name, { data: text, event })
    } catch (error) {
      return Promise.reject(storeError(error))
    }
    if (typeof appended === 'string' && inFlight === 0) {
      return Promise.resolve(fanOut(withStoreId(appended, body), appended, filter))
    }
    inFlight++
    const result = tail.then(async () => {
      try {
        const id = await appended
        return fanOut(withStoreId(id, body), id, filter)
      } catch (error) {
        throw storeError(error)
      } finally {
        inFlight--
      }
    })
    tail = result.catch(() => undefined)
    return result
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

    const replayed = new Set<string>()
    if (result.gap) {
      options.onGap?.(session, { lastEventId, reason: result.reason })
      if (resyncEvent !== false) {
        const latestId = 'latestId' in result ? result.latestId : undefined
        const data = JSON.stringify({ lastEventId, reason: result.reason })
        session.write(
          textEncoder.encode(encode({ data, event: resyncEvent, id: latestId } as never)),
        )
      }
    } else {
      for (const stored of result.events) {
        replayed.add(stored.id)
        const frame = encode({ data: stored.data, event: stored.event, id: stored.id } as never)
        session.write(textEncoder.encode(frame))
      }
    }
    for (const { id, frame } of held) {
      if (id === undefined || !replayed.delete(id)) session.write(frame)
    }
    // Broadcasts still in flight may carry replayed events: skip those until
    // every broadcast issued so far has been fanned out.
    if (replayed.size > 0 && inFlight > 0) {
      member.replayed = replayed
      void tail.then(() => {
        member.replayed = undefined
      })
    }
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
  }
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
