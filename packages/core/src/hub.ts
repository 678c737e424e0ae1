/**
 * The hub: sessions subscribe to topic selectors, events are published to
 * topics, and one Last-Event-ID resumes every topic of a connection.
 *
 * A subscription's life:
 *
 *   subscribe ──► holding ──(shards followed, history read)──► live ──► gone
 *                    │ live events for it are held, then written
 *                    │ after the replay, so none is lost or twice
 *
 * The hub follows each shard that some subscription needs (an exact topic
 * needs its shard, a pattern needs all of them) and keeps the position of
 * the last event it saw on each: that cursor, formatted, is the id of every
 * frame it writes, so a broadcast is still encoded once for all sessions.
 */

import { closeForDrain, closeSpread, type DrainOptions, resolveDrainOptions } from './drain'
import { encode } from './encode'
import type { Engine, Following, MaybePromise, ShardEvent, ShardReadResult } from './engine'
import { SseError } from './errors'
import { type Cursor, formatEventId, parseEventId } from './event-id'
import type { EventMap, EventName, TypedArgs } from './events'
import { countersOf, type Instrumentation, type StoreOperation } from './instrumentation'
import { createMemoryEngine } from './memory-engine'
import {
  backgroundTimer,
  type CloseHooks,
  type CloseListener,
  defaultSerialize,
  kOffClose,
  kOnClose,
  type Session,
  serializeData,
} from './session'
import { assertSelector, assertTopic, isPattern, selectorMatches, TopicIndex } from './topics'

/** Options for {@link createHub}. */
export interface HubOptions {
  /**
   * Where events are logged and how they reach every process.
   *
   * @defaultValue `createMemoryEngine()`: one process, 1,000 events of history
   */
  engine?: Engine
  /** Turns published data into text. @defaultValue strings as they are, else `JSON.stringify` */
  serialize?: (data: unknown) => string
  /**
   * The event sent to a client that cannot be resumed (its Last-Event-ID
   * expired, is unknown or forged, the engine failed, or lost events in a
   * failover), so it never misses events silently. Its data is JSON
   * `{ lastEventId, reason }`; its id resumes from now. `false` sends nothing.
   *
   * @defaultValue 'resync'
   */
  resyncEvent?: string | false
  /** Called when a session cannot be resumed (before `resyncEvent` is sent). */
  onGap?: (session: Session, gap: GapInfo) => void
  /** Called when the engine fails for a session (reading history) or for everyone (following a shard). */
  onError?: (error: SseError, session?: Session) => void
  /**
   * The most bytes of live events held for one session while its history is
   * read; past it, the session is closed (it reconnects and replays again).
   *
   * @defaultValue 1_048_576
   */
  maxReplayBufferBytes?: number
  /** The most selectors one subscription may hold. @defaultValue 64 */
  maxSelectors?: number
  /** The most topics one event may be published to. @defaultValue 16 */
  maxTopicsPerEvent?: number
  /**
   * Resuming sessions that need the same shard's history from the same
   * position while no new event has arrived share one read (in flight or
   * done), Centrifugo's singleflight: when thousands of clients reconnect at
   * once, most from the same position, history is read once, not once per
   * client. `false` reads once per session (to measure the difference).
   *
   * @defaultValue true
   */
  coalesceReads?: boolean
  /**
   * Counts replays, gaps and store calls (their time and failures); see
   * `createInstrumentation`. Give the same one to the `sse()` routes for the
   * streams themselves.
   */
  instrumentation?: Instrumentation
}

/** Why a session could not be resumed. */
export interface GapInfo {
  /** The Last-Event-ID it reconnected with, if any. */
  lastEventId: string | undefined
  /**
   * `expired`: retention dropped events it needs; `unknown`: not an id this
   * hub could have sent (or another deployment's); `error`: the engine
   * failed; `reset`: the engine lost events it had already delivered.
   */
  reason: 'expired' | 'unknown' | 'error' | 'reset'
}

/** Options for {@link Hub.subscribe}. */
export interface SubscribeOptions {
  /** Resume after this id instead of the session's own `lastEventId`. */
  lastEventId?: string | undefined
}

/** Options for {@link Hub.publish}. */
export interface PublishOptions {
  /** The event type. */
  event?: string | undefined
  /**
   * The conflation key: a session with `slowClient: 'conflate'` that has
   * this event still queued when a newer one with the same key comes
   * (live or in replay) sends only the newer. Logged with the event, so
   * every process conflates alike. At most 256 characters.
   */
  key?: string | undefined
}

/** One session's selectors in a hub. */
export interface Subscription {
  /** The subscribed session. */
  readonly session: Session
  /** Its selectors now. */
  readonly selectors: ReadonlySet<string>
  /**
   * Resolves once the replay (or, without a Last-Event-ID, the starting
   * position) has been written and live events flow.
   */
  readonly ready: Promise<void>
  /**
   * Adds selectors; events published from now on that they match are
   * delivered (no replay of older ones). Resolves once they are live.
   * Throws a `TypeError` for an invalid selector or too many.
   */
  add(selectors: string | Iterable<string>): Promise<void>
  /** Removes selectors; nothing they alone matched is delivered after this returns. */
  remove(selectors: string | Iterable<string>): void
  /** Removes the session from the hub (it stays open). */
  unsubscribe(): void
}

/**
 * Topics and subscriptions over one engine. With an event map
 * (`createHub<Events>()`, see `EventMap`), `publish` checks event names and
 * data.
 */
export interface Hub<E extends EventMap = EventMap> {
  /** The engine events go through. */
  readonly engine: Engine
  /** How many sessions are subscribed. */
  readonly size: number
  /** The current subscriptions. */
  subscriptions(): IterableIterator<Subscription>
  /**
   * Subscribes a session to selectors (topics, or patterns with `*` and a
   * trailing `**`). With a Last-Event-ID it first receives every event after
   * it that the selectors match, then live ones, none lost or twice. The
   * selectors are the authorization boundary: nothing they do not match is
   * ever sent, live or replayed. Throws a `TypeError` for an invalid selector,
   * too many, or a session already subscribed. On a closed hub the session
   * is closed instead (its client reconnects, to another instance).
   */
  subscribe(
    session: Session,
    selectors: string | Iterable<string>,
    options?: SubscribeOptions,
  ): Subscription
  /**
   * Publishes an event to one or more topics: every session whose selectors
   * match any of them receives it once, in every process on the engine.
   * Throws a `TypeError` at the call for misuse (an invalid topic, a closed
   * hub); rejects with an `SseError` for bad data (`SSE_INVALID_DATA`,
   * `SSE_INVALID_FIELD` for the event type) and when the engine fails
   * (`SSE_STORE`).
   */
  publish<K extends EventName<E>>(
    topics: string | Iterable<string>,
    data: E[K],
    ...options: TypedArgs<E, K, PublishOptions>
  ): Promise<void>
  /**
   * Ends this hub's streams gracefully: a session subscribed from now on is
   * sent a `retry:` hint and closed at once, and every subscribed one is
   * sent a jittered hint and closed (reason `drain`), the closes spread
   * evenly over `window` so clients come back gradually and resume with
   * Last-Event-ID. Publishing goes on. Resolves once all are closed;
   * calling it again returns the same promise.
   */
  drain(options?: DrainOptions): Promise<void>
  /** Stops following every shard and closes every session. Idempotent. */
  close(): void
}

/** A live event held for a session while its history is read. */
interface Held {
  shard: number
  position: string
  body: string
  key: string | undefined
}

/**
 * An event a resuming session is owed: a held live one (its body encoded),
 * or one read from history (`event`, encoded when written).
 */
interface Owed {
  shard: number
  position: string
  body: string | undefined
  key: string | undefined
  event?: ShardEvent
}

/** A shard this hub follows. */
interface Shard {
  refs: number
  following: Following
  // Where following started, once known.
  start: string | undefined
  // The position of the last event seen (or where following started).
  cursor: string | undefined
  // `<shard>:<cursor>` for the id, cached until the cursor moves.
  entry: string | undefined
  ready: Promise<void>
  // Subscriptions waiting for the cursor to reach a position (see catchUp).
  waiters: Array<{ position: string; done: () => void }>
  // History reads by position, shared while the cursor stays where it was
  // when they were issued (see readHistory); cleared when it moves.
  reads: Map<string, MaybePromise<ShardReadResult>> | undefined
}

/** Milliseconds, as precise as the runtime gives them (Workers: per request). */
const now = (): number => (typeof performance === 'undefined' ? Date.now() : performance.now())

/** Characters of replayed frames written at once. */
const REPLAY_BATCH = 16_384

/** The most distinct positions a shard shares reads for between two events. */
const MAX_SHARED_READS = 1024

/** The longest conflation key a publish may carry. */
const MAX_KEY_LENGTH = 256

/** How long a resuming session waits for this process to reach its position. */
const CATCH_UP_TIMEOUT = 10_000

const textEncoder = /* @__PURE__ */ new TextEncoder()

/**
 * Creates a hub.
 *
 * @example
 * ```ts
 * const hub = createHub()
 * hub.subscribe(session, ['users/42', 'rooms/lobby', 'orders/*'])
 * await hub.publish('users/42', { text: 'hello' }, { event: 'notification' })
 * ```
 */
export function createHub<E extends EventMap = EventMap>(options: HubOptions = {}): Hub<E> {
  const engine = options.engine ?? createMemoryEngine()
  const serialize = options.serialize ?? defaultSerialize
  const resyncEvent = options.resyncEvent ?? 'resync'
  const maxHeld = options.maxReplayBufferBytes ?? 1_048_576
  const maxSelectors = options.maxSelectors ?? 64
  const maxTopics = options.maxTopicsPerEvent ?? 16
  const coalesceReads = options.coalesceReads ?? true
  const counters = countersOf(options.instrumentation, 'createHub')
  if (!(Number.isInteger(maxSelectors) && maxSelectors >= 1)) {
    throw new TypeError('createHub: `maxSelectors` must be an integer >= 1')
  }
  if (!(Number.isInteger(maxTopics) && maxTopics >= 1)) {
    throw new TypeError('createHub: `maxTopicsPerEvent` must be an integer >= 1')
  }
  const allShards = Array.from({ length: engine.shards }, (_, shard) => shard)
  // `[shard]` for each shard, shared by every member that needs only it.
  const oneShard: readonly (readonly number[])[] = allShards.map((shard) => [shard])
  const index = new TopicIndex<Member>()
  const members = new Map<Session, Member>()
  const shards = new Map<number, Shard>()
  let stamp = 0
  let closed = false
  const bodies = new WeakMap<ShardEvent, string>()
  let draining: { done: Promise<void>; retry: number } | undefined
  // The formatted cursor of every followed shard; undefined when stale.
  let currentId: string | undefined

  function report(error: unknown, session?: Session): void {
    options.onError?.(storeError(error), session)
  }

  function shardsOf(selector: string): readonly number[] {
    return isPattern(selector) ? allShards : [engine.shardOf(selector)]
  }

  function cursorOf(wanted: Iterable<number>): Cursor {
    const cursor: Cursor = new Map()
    for (const shard of wanted) {
      const position = shards.get(shard)?.cursor
      if (position !== undefined) cursor.set(shard, position)
    }
    return cursor
  }

  function processId(): string {
    if (currentId !== undefined) return currentId
    // Shards in order, each `<shard>:<position>` formatted once per change of
    // its cursor (see Shard.entry): with 16 shards, rebuilding every piece
    // for every event cost 4 times as much as joining cached ones.
    let id = ''
    for (const shard of allShards) {
      const state = shards.get(shard)
      if (state?.cursor === undefined) continue
      state.entry ??= shard + ':' + state.cursor
      id += id === '' ? state.entry : ',' + state.entry
    }
    currentId = id
    return id
  }

  // --- following shards ----------------------------------------------------

  function ref(shard: number): void {
    const known = shards.get(shard)
    if (known !== undefined) {
      known.refs++
      return
    }
    const state: Shard = {
      refs: 1,
      following: undefined!,
      start: undefined,
      cursor: undefined,
      entry: undefined,
      ready: undefined!,
      waiters: [],
      reads: undefined,
    }
    shards.set(shard, state)
    state.following = engine.follow(shard, {
      event: (event) => deliver(shard, state, event),
      reset: (position) => resetShard(shard, state, position),
    })
    state.ready = state.following.ready.then((position) => {
      state.start = position
      if (state.cursor === undefined && shards.get(shard) === state) {
        state.cursor = position
        state.reads = undefined
        state.entry = undefined
        currentId = undefined
      }
    })
    // Failures reach the subscriptions waiting on `ready`; this only keeps
    // an unobserved rejection from surfacing as unhandled.
    state.ready.catch(() => undefined)
  }

  function unref(shard: number): void {
    const state = shards.get(shard)
    if (state === undefined || --state.refs > 0) return
    shards.delete(shard)
    currentId = undefined
    state.following.stop()
    for (const waiter of state.waiters) waiter.done()
  }

  /**
   * Resolves once this process has seen `position` on `shard`: a client may
   * come from a process that is ahead of this one by the engine's delivery
   * lag, and must not be sent an id older than the one it holds.
   */
  function catchUp(shard: number, position: string): Promise<void> | undefined {
    const state = shards.get(shard)!
    if (engine.compare(state.cursor!, position) >= 0) return undefined
    return new Promise((resolve, reject) => {
      const timer = backgroundTimer(() => {
        state.waiters = state.waiters.filter((waiter) => waiter.done !== done)
        reject(
          new SseError(
            'SSE_STORE',
            `Shard ${shard} did not reach ${position} within ${CATCH_UP_TIMEOUT} ms`,
          ),
        )
      }, CATCH_UP_TIMEOUT)
      const done = (): void => {
        clearTimeout(timer)
        resolve()
      }
      state.waiters.push({ position, done })
    })
  }

  // --- live delivery ---------------------------------------------------------

  function deliver(shard: number, state: Shard, event: ShardEvent): void {
    if (shards.get(shard) !== state) return
    state.cursor = event.position
    state.reads = undefined
    state.entry = undefined
    currentId = undefined
    if (state.waiters.length > 0) {
      state.waiters = state.waiters.filter((waiter) => {
        if (engine.compare(event.position, waiter.position) < 0) return true
        waiter.done()
        return false
      })
    }
    if (members.size === 0) return
    let body: string | undefined
    let frame: Uint8Array | undefined
    if (event.topics.length === 1 && !index.hasPatterns) {
      // The common case, without the per-member stamp: one exact topic, so
      // no session can match twice. A plain loop over its members.
      const listeners = index.exact(event.topics[0]!)
      if (listeners === undefined) return
      body = bodyOf(event)
      if (body === undefined) return
      for (const member of listeners) {
        if (member.held !== undefined) {
          member.hold({ shard, position: event.position, body, key: event.key })
          continue
        }
        if (frame === undefined) frame = encodeFrame(body)
        member.session.write(frame, event.key)
      }
      return
    }
    forEachOwner(event, shard, ++stamp, (member) => {
      if (body === undefined) body = bodyOf(event)
      if (body === undefined) return
      if (member.held !== undefined) {
        member.hold({ shard, position: event.position, body, key: event.key })
        return
      }
      if (frame === undefined) frame = encodeFrame(body)
      member.session.write(frame, event.key)
    })
  }

  function encodeFrame(body: string): Uint8Array {
    return textEncoder.encode('id: ' + processId() + '\n' + body)
  }

  /**
   * Calls `visit` for each member that takes this copy of the event: it
   * matches one of the event's topics, and the lowest shard among the topics
   * it matches is this copy's shard. Each member once (the stamp).
   */
  function forEachOwner(
    event: ShardEvent,
    shard: number,
    mark: number,
    visit: (member: Member) => void,
  ): void {
    const topics = event.topics
    if (topics.length === 1) {
      index.match(topics[0]!, (member) => {
        if (member.stamp === mark) return
        member.stamp = mark
        visit(member)
      })
      return
    }
    const byShard = topics
      .map((topic) => ({ topic, shard: engine.shardOf(topic) }))
      .sort((a, b) => a.shard - b.shard)
    for (const { topic, shard: owner } of byShard) {
      index.match(topic, (member) => {
        if (member.stamp === mark) return
        member.stamp = mark
        if (owner === shard) visit(member)
      })
    }
  }

  /**
   * Whether `member` takes this copy of a replayed event: the replay twin of
   * forEachOwner, asked of one member (its selectors, not the index).
   */
  function takes(member: Member, event: ShardEvent, shard: number): boolean {
    let owner: number | undefined
    for (const topic of event.topics) {
      if (!member.matches(topic)) continue
      const topicShard = engine.shardOf(topic)
      if (owner === undefined || topicShard < owner) owner = topicShard
    }
    return owner === shard
  }

  function bodyOf(event: ShardEvent): string | undefined {
    // A read shared by many resuming sessions shares its events: encode each once.
    const known = bodies.get(event)
    if (known !== undefined) return known
    try {
      const body = encode({ data: event.data, event: event.event })
      bodies.set(event, body)
      return body
    } catch (error) {
      // Another process (or whoever writes to the engine) logged an event no
      // hub would publish: skip it rather than corrupt streams.
      report(error)
      return undefined
    }
  }

  function resetShard(shard: number, state: Shard, position: string): void {
    if (shards.get(shard) !== state) return
    state.cursor = position
    state.reads = undefined
    state.entry = undefined
    currentId = undefined
    // Resuming sessions waiting for positions the log may no longer reach:
    // let them go on now (they are held, so they get `resync` below).
    for (const waiter of state.waiters.splice(0)) waiter.done()
    for (const member of members.values()) {
      if (!member.needs(shard)) continue
      if (member.held !== undefined) member.resetWhileHeld = true
      else resync(member, undefined, 'reset')
    }
  }

  function resync(member: Member, lastEventId: string | undefined, reason: GapInfo['reason']) {
    const session = member.session
    counters?.gap(reason)
    options.onGap?.(session, { lastEventId, reason })
    if (resyncEvent === false) {
      writePosition(session)
      return
    }
    const data = JSON.stringify({ lastEventId: lastEventId ?? null, reason })
    session.write(textEncoder.encode(encode({ data, event: resyncEvent, id: processId() })))
  }

  /**
   * Writes the hub's position as an id-only frame: it dispatches no event,
   * but the client's Last-Event-ID becomes it, so a reconnect resumes from
   * here even if no event came since.
   */
  function writePosition(session: Session): void {
    const id = processId()
    if (id !== '') session.write(textEncoder.encode('id: ' + id + '\n\n'))
  }

  // --- subscriptions ---------------------------------------------------------

  // Arrays, not a Set and a Map: a session has a few selectors (at most
  // maxSelectors) on a few shards, and an idle stream's memory is what ten
  // thousand of them cost (a Set or Map starts with a hash table of its own).
  class Member implements Subscription {
    readonly session: Session
    // Distinct, in the order they were added: one selector (most sessions
    // have one) kept bare, more in an array. Replaced, never pushed to: an
    // array grown by push keeps 17 slots or more for its one or two items.
    #selectors: string | readonly string[] = NO_SELECTORS
    // Distinct: the shards the selectors need.
    #shards: readonly number[] = NO_SHARDS
    // The catch-up's promise while it runs; a shared settled one after.
    ready: Promise<void> = SETTLED
    held: Held[] | undefined = []
    heldBytes = 0
    resetWhileHeld = false
    stamp = 0

    constructor(session: Session) {
      this.session = session
    }

    get selectors(): ReadonlySet<string> {
      return new Set(this.#list())
    }

    #list(): readonly string[] {
      const selectors = this.#selectors
      return typeof selectors === 'string' ? [selectors] : selectors
    }

    needs(shard: number): boolean {
      return this.#shards.includes(shard)
    }

    matches(topic: string): boolean {
      const selectors = this.#selectors
      if (typeof selectors === 'string') {
        return selectors === topic || (isPattern(selectors) && selectorMatches(selectors, topic))
      }
      if (selectors.includes(topic)) return true
      for (const selector of selectors) {
        if (isPattern(selector) && selectorMatches(selector, topic)) return true
      }
      return false
    }

    neededShards(): readonly number[] {
      return this.#shards
    }

    /** Recomputes the needed shards; refs those that became needed, unrefs the rest. */
    #updateShards(): number[] {
      const before = this.#shards
      const after: number[] = []
      for (const selector of this.#list()) {
        for (const shard of shardsOf(selector)) if (!after.includes(shard)) after.push(shard)
      }
      this.#shards =
        after.length === 0 ? NO_SHARDS : after.length === 1 ? oneShard[after[0]!]! : after.slice()
      const added: number[] = []
      for (const shard of after) {
        if (before.includes(shard)) continue
        ref(shard)
        added.push(shard)
      }
      for (const shard of before) if (!after.includes(shard)) unref(shard)
      return added
    }

    hold(held: Held): void {
      this.heldBytes += held.body.length
      if (this.heldBytes > maxHeld) {
        this.session.close()
        return
      }
      this.held!.push(held)
    }

    /** Indexes already validated selectors; returns the shards that became needed. */
    attach(selectors: readonly string[]): number[] {
      const before = this.#list()
      const added = selectors.filter((selector) => !before.includes(selector))
      if (added.length === 0) return []
      this.#selectors = keptSelectors(before.concat(added))
      for (const selector of added) index.add(selector, this)
      return this.#updateShards()
    }

    detach(selectors: Iterable<string>): void {
      const removed = new Set(selectors)
      const before = this.#list()
      const kept = before.filter((selector) => !removed.has(selector))
      if (kept.length === before.length) return
      for (const selector of before) if (removed.has(selector)) index.remove(selector, this)
      this.#selectors = keptSelectors(kept)
      this.#updateShards()
    }

    add(selectors: string | Iterable<string>): Promise<void> {
      const list = validSelectors(selectors, 'add')
      if (new Set([...this.#list(), ...list]).size > maxSelectors) {
        throw new TypeError(`add: more than ${maxSelectors} selectors (maxSelectors)`)
      }
      return this.ready.then(async () => {
        if (members.get(this.session) !== this) return
        const added = this.attach(list)
        if (added.length === 0) return
        await Promise.all(added.map((shard) => shards.get(shard)?.ready))
        // The id now covers the new shards: a reconnect resumes them too.
        if (members.get(this.session) === this && this.held === undefined) {
          writePosition(this.session)
        }
      })
    }

    remove(selectors: string | Iterable<string>): void {
      this.detach(typeof selectors === 'string' ? [selectors] : [...selectors])
    }

    unsubscribe(): void {
      if (members.get(this.session) !== this) return
      members.delete(this.session)
      unwatchClose(this.session, onMemberClose)
      this.held = undefined
      this.detach(this.#list())
    }
  }

  // One close listener for every member of this hub, not a closure each.
  function onMemberClose(session: Session): void {
    members.get(session)?.unsubscribe()
  }

  function validSelectors(selectors: string | Iterable<string>, what: string): string[] {
    if (typeof selectors !== 'string' && typeof selectors?.[Symbol.iterator] !== 'function') {
      throw new TypeError(`${what}: selectors must be a string or an iterable of strings`)
    }
    const list = typeof selectors === 'string' ? [selectors] : [...selectors]
    const distinct = [
      ...new Set(list.map((selector) => assertSelector(selector, `${what}: selector`))),
    ]
    if (distinct.length > maxSelectors) {
      throw new TypeError(
        `${what}: ${distinct.length} selectors, more than ${maxSelectors} (maxSelectors)`,
      )
    }
    return distinct
  }

  function subscribe(
    session: Session,
    selectors: string | Iterable<string>,
    subscribeOptions: SubscribeOptions = {},
  ): Subscription {
    const list = validSelectors(selectors, 'subscribe')
    if (members.has(session)) {
      throw new TypeError('subscribe: this session is already subscribed; use subscription.add()')
    }
    const member = new Member(session)
    if (draining !== undefined && !closed) {
      member.held = undefined
      closeForDrain(session, draining.retry)
      return member
    }
    if (closed || session.closed) {
      // A request that raced a shutdown is not a mistake: end its stream, and
      // the client reconnects (to another instance behind a load balancer).
      member.held = undefined
      session.close()
      return member
    }
    members.set(session, member)
    watchClose(session, onMemberClose)
    member.attach(list)
    const lastEventId =
      'lastEventId' in subscribeOptions ? subscribeOptions.lastEventId : session.lastEventId
    member.ready = start(member, lastEventId).then(() => {
      // Settled: the member keeps a shared promise, not its own, while it lasts.
      member.ready = SETTLED
    })
    return member
  }

  /**
   * Reads `shard`'s history after `position`, sharing a read issued while
   * the cursor stood where it stands now. Safe because this session began
   * holding live events before asking: whatever that read misses arrived
   * after it was issued, so after the cursor last moved, so after this
   * session started holding. A failed read is not kept.
   */
  function readHistory(shard: number, position: string): MaybePromise<ShardReadResult> {
    if (!coalesceReads) return timed('read', () => engine.read(shard, position))
    const state = shards.get(shard)!
    const known = state.reads?.get(position)
    if (known !== undefined) return known
    const read = timed('read', () => engine.read(shard, position))
    state.reads ??= new Map()
    if (state.reads.size >= MAX_SHARED_READS) return read
    state.reads.set(position, read)
    if (read instanceof Promise) {
      read.catch(() => {
        if (state.reads?.get(position) === read) state.reads.delete(position)
      })
    }
    return read
  }

  /** Runs a store call, telling the instrumentation how long it took and whether it failed. */
  function timed<T>(operation: StoreOperation, call: () => MaybePromise<T>): MaybePromise<T> {
    if (counters === undefined) return call()
    const started = now()
    let result: MaybePromise<T>
    try {
      result = call()
    } catch (error) {
      counters.store(operation, (now() - started) / 1000, true)
      throw error
    }
    if (!(result instanceof Promise)) {
      counters.store(operation, (now() - started) / 1000, false)
      return result
    }
    result.then(
      () => counters.store(operation, (now() - started) / 1000, false),
      () => counters.store(operation, (now() - started) / 1000, true),
    )
    return result
  }

  /** Holds live events, reads history, then writes both in order and goes live. */
  async function start(member: Member, lastEventId: string | undefined): Promise<void> {
    const session = member.session
    const alive = (): boolean => members.get(session) === member && !session.closed
    const needed = member.neededShards()
    // Where this session stands on each shard: its Last-Event-ID, or for a
    // new session the hub's positions now (for shards whose following only
    // just started: where it starts, filled in once known).
    let base: Cursor | undefined
    let gap: GapInfo['reason'] | undefined
    if (lastEventId === undefined) base = cursorOf(needed)
    else {
      base = parseEventId(lastEventId, engine.shards, engine.isPosition)
      if (base === undefined || needed.some((shard) => !base!.has(shard))) gap = 'unknown'
    }
    const reads = new Map<number, ShardReadResult>()
    try {
      await Promise.all(needed.map((shard) => shards.get(shard)!.ready))
      if (!alive()) return
      if (lastEventId === undefined) {
        for (const shard of needed)
          if (!base!.has(shard)) base!.set(shard, shards.get(shard)!.start!)
      } else if (gap === undefined) {
        const from = base!
        await Promise.all(
          needed.map(async (shard) => reads.set(shard, await readHistory(shard, from.get(shard)!))),
        )
        if (!alive()) return
        for (const result of reads.values()) if (result.gap) gap ??= result.reason
        if (gap === undefined) {
          await Promise.all(needed.map((shard) => catchUp(shard, from.get(shard)!)))
        }
      }
    } catch (error) {
      report(error, session)
      gap = 'error'
    }
    if (!alive()) return
    // From here to the end nothing awaits: no live event can slip in between.
    const held = member.held!
    member.held = undefined
    member.heldBytes = 0
    if (member.resetWhileHeld) gap = 'reset'
    if (gap !== undefined) {
      resync(member, lastEventId, gap)
      return
    }
    const items = pending(member, base!, reads, held)
    writeInOrder(member, base!, items)
    if (counters !== undefined) {
      let replayed = 0
      for (const item of items) if (item.event !== undefined) replayed++
      if (replayed > 0) counters.replayed(replayed)
    }
    writePosition(session)
  }

  /**
   * What the session is owed, per shard: history after its position up to
   * the hub's cursor, then held live events the history did not include.
   */
  function pending(
    member: Member,
    base: Cursor,
    reads: Map<number, ShardReadResult>,
    held: Held[],
  ): Owed[] {
    const out: Owed[] = []
    const readThrough = new Map<number, string>(base)
    for (const [shard, result] of reads) {
      if (result.gap) continue
      const cursor = shards.get(shard)!.cursor!
      for (const event of result.events) {
        // Newer than the cursor: live delivery will bring it.
        if (engine.compare(event.position, cursor) > 0) break
        readThrough.set(shard, event.position)
        if (takes(member, event, shard))
          out.push({ shard, position: event.position, body: undefined, key: event.key, event })
      }
    }
    for (const item of held) {
      const through = readThrough.get(item.shard)
      if (through === undefined || engine.compare(item.position, through) > 0) out.push(item)
    }
    // Across shards in time order; within a shard positions order exactly (stable sort).
    // One shard: already in order (history, then the held events after it).
    if (member.neededShards().length === 1) return out
    return out.sort((a, b) => engine.compare(a.position, b.position))
  }

  /**
   * Writes what a session is owed. Unkeyed frames go out in batches of up
   * to {@link REPLAY_BATCH} characters (one encode and one write for many);
   * a keyed one alone, so that it can conflate.
   */
  function writeInOrder(member: Member, base: Cursor, items: Owed[]): void {
    const session = member.session
    const running: Cursor = new Map(base)
    let batch = ''
    for (const item of items) {
      const body = item.body ?? bodyOf(item.event!)
      running.set(item.shard, item.position)
      if (body === undefined) continue
      const frame = 'id: ' + formatEventId(running) + '\n' + body
      if (item.key !== undefined) {
        if (batch !== '') session.write(textEncoder.encode(batch))
        batch = ''
        session.write(textEncoder.encode(frame), item.key)
        continue
      }
      batch += frame
      if (batch.length >= REPLAY_BATCH) {
        session.write(textEncoder.encode(batch))
        batch = ''
      }
    }
    if (batch !== '') session.write(textEncoder.encode(batch))
  }

  function publish(
    topics: string | Iterable<string>,
    data: unknown,
    publishOptions: PublishOptions = {},
  ): Promise<void> {
    if (closed) throw new TypeError('publish: the hub is closed')
    if (typeof topics !== 'string' && typeof topics?.[Symbol.iterator] !== 'function') {
      throw new TypeError('publish: topics must be a string or an iterable of strings')
    }
    const list = [
      ...new Set(
        (typeof topics === 'string' ? [topics] : [...topics]).map((topic) =>
          assertTopic(topic, 'publish: topic'),
        ),
      ),
    ]
    if (list.length === 0) throw new TypeError('publish: at least one topic is required')
    if (list.length > maxTopics) {
      throw new TypeError(
        `publish: ${list.length} topics, more than ${maxTopics} (maxTopicsPerEvent)`,
      )
    }
    const event = publishOptions.event
    const key = publishOptions.key
    if (key !== undefined && !(typeof key === 'string' && key.length <= MAX_KEY_LENGTH)) {
      throw new TypeError(
        `publish: \`key\` must be a string of at most ${MAX_KEY_LENGTH} characters`,
      )
    }
    let text: string
    try {
      // Validates the event type now, before anything is logged.
      if (event !== undefined) encode({ event })
      text = serializeData(serialize, data)
    } catch (error) {
      // Bad data rejects (an SseError with its code), like a failing store.
      return Promise.reject(error)
    }
    const targets = [...new Set(list.map((topic) => engine.shardOf(topic)))].sort((a, b) => a - b)
    try {
      const appended = timed('append', () =>
        engine.append(
          targets,
          key === undefined
            ? { topics: list, data: text, event }
            : { topics: list, data: text, event, key },
        ),
      )
      if (appended === undefined) return Promise.resolve()
      return Promise.resolve(appended).then(
        () => undefined,
        (error: unknown) => Promise.reject(storeError(error)),
      )
    } catch (error) {
      return Promise.reject(storeError(error))
    }
  }

  function drain(drainOptions?: DrainOptions): Promise<void> {
    if (draining !== undefined) return draining.done
    const { window, retry } = resolveDrainOptions(drainOptions)
    const sessions = [...members.keys()]
    draining = { done: closeSpread(sessions, window, retry), retry }
    return draining.done
  }

  function close(): void {
    if (closed) return
    closed = true
    for (const state of shards.values()) state.following.stop()
    shards.clear()
    for (const member of [...members.values()]) {
      member.unsubscribe()
      member.session.close()
    }
  }

  return {
    engine,
    get size() {
      return members.size
    },
    subscriptions: () => members.values(),
    subscribe,
    publish,
    drain,
    close,
  }
}

/**
 * Calls `onClose` when the session closes; returns an unwatch function. Our
 * sessions have a cheap internal hook; any other `Session` implementation is
 * watched through its signal.
 */
const NO_SHARDS: readonly number[] = []
const NO_SELECTORS: readonly string[] = []
const SETTLED: Promise<void> = /* @__PURE__ */ Promise.resolve()

/** A member's selectors as it keeps them: one bare, more (or none) as a fresh exact-size array. */
function keptSelectors(selectors: readonly string[]): string | readonly string[] {
  if (selectors.length === 1) return selectors[0]!
  return selectors.length === 0 ? NO_SELECTORS : selectors.slice()
}

/**
 * Calls `onClose(session)` when `session` closes: through the hooks of a
 * session made by createSession, else through its signal (another Session
 * implementation), with the wrapper kept to remove it.
 */
function watchClose(session: Session, onClose: CloseListener): void {
  const hooks = session as Partial<CloseHooks>
  if (hooks[kOnClose] !== undefined) {
    hooks[kOnClose](onClose)
    return
  }
  const listener = (): void => onClose(session)
  let bySession = signalListeners.get(onClose)
  if (bySession === undefined) {
    bySession = new WeakMap()
    signalListeners.set(onClose, bySession)
  }
  bySession.set(session, listener)
  session.signal.addEventListener('abort', listener, { once: true })
}

function unwatchClose(session: Session, onClose: CloseListener): void {
  const hooks = session as Partial<CloseHooks>
  if (hooks[kOffClose] !== undefined) {
    hooks[kOffClose](onClose)
    return
  }
  const bySession = signalListeners.get(onClose)
  const listener = bySession?.get(session)
  if (listener === undefined) return
  bySession!.delete(session)
  session.signal.removeEventListener('abort', listener)
}

// Sessions of other implementations: the abort listener watchClose added,
// by close listener (one per hub) and session.
const signalListeners = new WeakMap<CloseListener, WeakMap<Session, () => void>>()

function storeError(error: unknown): SseError {
  if (error instanceof SseError) return error
  return new SseError('SSE_STORE', 'The engine failed', { cause: error })
}
