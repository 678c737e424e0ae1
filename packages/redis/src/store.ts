import { type EventStore, type ReadAfterResult, SseError, type StoredEvent } from '@sse/core'
import type { Redis } from 'ioredis'
import { compareIds, isStreamId, previousId } from './ids'

/**
 * Options for {@link RedisEventStore}.
 *
 * @example
 * ```ts
 * new RedisEventStore({ redis, prefix: 'app:sse:', maxLen: 5000, maxAge: 3_600_000, onError: log })
 * ```
 */
export interface RedisEventStoreOptions {
  /**
   * The connection for appends and reads (`XADD`, `XRANGE`, `XINFO`). The
   * blocking `XREAD` loop of {@link RedisEventStore.subscribe} runs on a
   * duplicate of it that the store opens and closes itself. A standalone or
   * Sentinel client; Redis Cluster is not supported.
   */
  redis: Redis
  /** Put in front of every stream name to form its Redis key. @defaultValue 'sse:' */
  prefix?: string
  /**
   * Entries kept per stream, trimmed approximately (`XADD … MAXLEN ~`), or
   * `false` for no length bound.
   *
   * @defaultValue 1000
   */
  maxLen?: number | false
  /**
   * Milliseconds an entry is kept, trimmed approximately (`MINID ~` computed
   * from this process's clock), or `false` for no age bound.
   *
   * @defaultValue false
   */
  maxAge?: number | false
  /**
   * Milliseconds one `XREAD` blocks for. New subscriptions wake the loop at
   * once (`CLIENT UNBLOCK`), so this only bounds an idle round trip.
   *
   * @defaultValue 5000
   */
  block?: number
  /**
   * Milliseconds an append or read may take, waiting for a connection
   * included, before it fails with `SSE_STORE`.
   *
   * @defaultValue 5000
   */
  commandTimeout?: number
  /**
   * Quit `redis` when the store closes: for a client made only for this
   * store. A client you pass in is otherwise left open.
   *
   * @defaultValue false
   */
  quitOnClose?: boolean
  /**
   * Called with what went wrong in the background: the `XREAD` loop losing
   * its connection (it reconnects and resumes), connection errors, a
   * listener that threw. Every error has code `SSE_STORE` and the original
   * error as `cause`. Without it, these are dropped.
   */
  onError?: (error: SseError) => void
  /** The clock behind `maxAge`, for tests. @defaultValue Date.now */
  now?: () => number
}

type Listener = (event: StoredEvent) => void

/** One followed stream of the XREAD loop: its position and who listens. */
interface Subscription {
  stream: string
  key: string
  // The key as it appears in XREAD replies (with the client's keyPrefix).
  replyKey: string
  // The last id delivered (or the id the subscription started at); undefined
  // until the start position is known.
  cursor: string | undefined
  // When `subscribe` was called (performance.now()).
  calledAt: number
  // The oldest id this store appended to the stream while `cursor` was still
  // unknown: the subscription must start before it (see #start).
  floor: string | undefined
  attempts: number
  listeners: Set<{ listener: Listener }>
}

/** A command waiting for the connection to become ready. */
interface Pending {
  send: () => void
  fail: (error: unknown) => void
}

const XREAD_COUNT = 1000
// A blocked XREAD answers within `block` ms; past this much longer, the
// socket is presumed dead (a silent network failure) and is reset.
const XREAD_GRACE_MS = 5000

/**
 * An `EventStore` on Redis Streams, shared by every process that points at
 * the same Redis: `append` is `XADD` (the entry id is the SSE id), replay is
 * `XRANGE`, and `subscribe` follows streams with one blocking `XREAD` loop
 * per store, so a channel in any process delivers every process's events in
 * log order, exactly once, across connection drops.
 *
 * @example
 * ```ts
 * const store = new RedisEventStore({ redis: new Redis(process.env.REDIS_URL), maxLen: 10_000 })
 * const channel = createChannel({ name: 'prices', store })
 * ```
 */
export class RedisEventStore implements EventStore {
  readonly #redis: Redis
  readonly #prefix: string
  readonly #maxLen: number | false
  readonly #maxAge: number | false
  readonly #block: number
  readonly #timeout: number
  readonly #quitOnClose: boolean
  readonly #onError: ((error: SseError) => void) | undefined
  readonly #now: () => number

  // Commands waiting for `#redis` to be ready, sent in call order (so a
  // subscription's start position is read before any later append).
  #queue: Pending[] = []
  #flushScheduled = false
  #closed = false
  #closing: Promise<void> | undefined
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()

  // The subscription side, created on first subscribe.
  readonly #subs = new Map<string, Subscription>()
  readonly #byReplyKey = new Map<string, Subscription>()
  #subscriber: Redis | undefined
  #loopDone: Promise<void> | undefined
  #clientId: number | undefined
  // The subscriptions the in-flight XREAD covers.
  #reading: Set<Subscription> | undefined
  // The XREAD being unblocked, if any.
  #unblocking: Set<Subscription> | undefined
  #unblockUnsupported = false
  // Resolves the loop's current wait (idle, backoff or connection).
  #wakeLoop: (() => void) | undefined

  readonly #onReady = (): void => this.#flush()
  readonly #onEnd = (): void => this.#failQueued(new Error('the Redis connection was closed'))
  readonly #onConnectionError = (error: unknown): void =>
    this.#report('Redis connection error', error)

  constructor(options: RedisEventStoreOptions) {
    const redis = options?.redis
    if (redis === undefined || typeof redis.call !== 'function') {
      throw new TypeError('RedisEventStore: `redis` must be an ioredis client (new Redis(url))')
    }
    this.#redis = redis
    this.#prefix = options.prefix ?? 'sse:'
    this.#maxLen = options.maxLen ?? 1000
    this.#maxAge = options.maxAge ?? false
    this.#block = options.block ?? 5000
    this.#timeout = options.commandTimeout ?? 5000
    this.#quitOnClose = options.quitOnClose ?? false
    this.#onError = options.onError
    this.#now = options.now ?? Date.now
    if (this.#maxLen !== false && !(Number.isInteger(this.#maxLen) && this.#maxLen >= 1)) {
      throw new TypeError('RedisEventStore: `maxLen` must be an integer >= 1 or false')
    }
    if (this.#maxAge !== false && !(this.#maxAge > 0)) {
      throw new TypeError('RedisEventStore: `maxAge` must be > 0 (ms) or false')
    }
    if (!(Number.isInteger(this.#block) && this.#block >= 1)) {
      throw new TypeError('RedisEventStore: `block` must be an integer >= 1 (ms)')
    }
    if (!(this.#timeout > 0)) throw new TypeError('RedisEventStore: `commandTimeout` must be > 0')
    redis.on('ready', this.#onReady)
    redis.on('end', this.#onEnd)
    // Only on a client we own: a caller's client reports to its own listeners.
    if (this.#quitOnClose) redis.on('error', this.#onConnectionError)
  }

  /** The Redis key of a stream: `prefix + stream`. */
  key(stream: string): string {
    return this.#prefix + stream
  }

  /**
   * Appends an event with `XADD`, trimming by `maxLen` and `maxAge`, and
   * returns the entry id Redis assigned. Fails with `SSE_STORE` when Redis
   * does not answer within `commandTimeout`.
   */
  async append(
    stream: string,
    event: { data: string; event?: string | undefined },
  ): Promise<string> {
    const key = this.key(stream)
    const args: Array<string | number> = [key]
    const byAge =
      this.#maxAge === false
        ? undefined
        : `${Math.max(0, Math.floor(this.#now() - this.#maxAge))}-0`
    // One trim strategy per XADD: length if set, else age; both means an
    // XTRIM for the age in the same round trip.
    if (this.#maxLen !== false) args.push('MAXLEN', '~', this.#maxLen)
    else if (byAge !== undefined) args.push('MINID', '~', byAge)
    args.push('*', 'data', event.data)
    if (event.event !== undefined) args.push('event', event.event)
    let id: unknown
    if (this.#maxLen !== false && byAge !== undefined) {
      const replies = await this.#command('XADD', (redis) =>
        redis
          .multi()
          .call('XADD', ...args)
          .call('XTRIM', key, 'MINID', '~', byAge)
          .exec(),
      )
      const [added, trimmed] = replies ?? []
      if (added === undefined || added[0] !== null) {
        throw storeError('XADD', added?.[0] ?? new Error('transaction aborted'))
      }
      if (trimmed?.[0] != null) this.#report(`XTRIM of ${key} failed`, trimmed[0])
      id = added[1]
    } else {
      id = await this.#command('XADD', (redis) => redis.call('XADD', ...args))
    }
    if (typeof id !== 'string')
      throw storeError('XADD', new Error(`unexpected reply ${String(id)}`))
    const sub = this.#subs.get(stream)
    if (sub !== undefined && sub.cursor === undefined) {
      if (sub.floor === undefined || compareIds(id, sub.floor) < 0) sub.floor = id
    }
    return id
  }

  /**
   * Every retained event after `lastEventId` (`XRANGE`), or a gap: `unknown`
   * for an id that is malformed, newer than the stream or never issued,
   * `expired` when entries after it were trimmed. Gaps carry the stream's
   * newest id as `latestId`.
   */
  async readAfter(stream: string, lastEventId: string): Promise<ReadAfterResult> {
    const key = this.key(stream)
    // An untrusted header never reaches a Redis command unless it is an id
    // Redis could have issued.
    if (!isStreamId(lastEventId)) {
      const info = await this.#command('XINFO', (redis) =>
        redis.multi().call('XINFO', 'STREAM', key).exec(),
      )
      return gap('unknown', streamInfo(info?.[0]))
    }
    const replies = await this.#command('XRANGE', (redis) =>
      redis.multi().call('XINFO', 'STREAM', key).call('XRANGE', key, lastEventId, '+').exec(),
    )
    const info = streamInfo(replies?.[0])
    const range = replies?.[1]
    if (range === undefined || range[0] !== null) {
      throw storeError('XRANGE', range?.[0] ?? new Error('transaction aborted'))
    }
    const events = toEvents(range[1])
    const origin = lastEventId === '0-0'
    if (info === undefined) {
      // Nothing was ever appended to this stream.
      return origin ? { gap: false, events: [] } : { gap: true, reason: 'unknown' }
    }
    if (compareIds(lastEventId, info.lastId) > 0) return gap('unknown', info)
    // XDEL, or anything else that removed an entry newer than the client's.
    if (info.maxDeletedId !== undefined && compareIds(info.maxDeletedId, lastEventId) > 0) {
      return gap('expired', info)
    }
    // Redis 7 counts every entry ever added: equal to the length, nothing was removed.
    const neverTrimmed = info.entriesAdded !== undefined && info.entriesAdded === info.length
    if (info.firstId === undefined || compareIds(lastEventId, info.firstId) < 0) {
      // Older than everything retained. Only resumable when it is the origin
      // of a stream that never lost an entry, or the last entry of an
      // emptied one. Otherwise trimming may have taken events after it
      // (whether it did is unknowable, so say so) or it was never issued.
      if (origin && neverTrimmed) return { gap: false, events }
      if (info.firstId === undefined && lastEventId === info.lastId) {
        return { gap: false, events: [] }
      }
      return gap(neverTrimmed ? 'unknown' : 'expired', info)
    }
    // Within the retained range the id must be there (or be the one entry
    // deleted last, with nothing after it gone).
    if (events[0]?.id === lastEventId) events.shift()
    else if (info.maxDeletedId !== lastEventId) return gap('unknown', info)
    return { gap: false, events }
  }

  /**
   * Calls `listener` with every event appended to `stream` from now on, by
   * any process, in log order, exactly once, and returns a function that
   * stops it. Every stream of a store shares one blocking connection; after a
   * connection loss the loop resumes from the last delivered id.
   */
  subscribe(stream: string, listener: Listener): () => void {
    if (this.#closed) throw new TypeError('subscribe: the store is closed')
    let sub = this.#subs.get(stream)
    if (sub === undefined) {
      const key = this.key(stream)
      sub = {
        stream,
        key,
        replyKey: (this.#redis.options.keyPrefix ?? '') + key,
        cursor: undefined,
        calledAt: performance.now(),
        floor: undefined,
        attempts: 0,
        listeners: new Set(),
      }
      this.#subs.set(stream, sub)
      this.#byReplyKey.set(sub.replyKey, sub)
      this.#start(sub)
    }
    const entry = { listener }
    const owner = sub
    owner.listeners.add(entry)
    this.#loopDone ??= this.#loop().catch((error: unknown) => {
      // Not expected (every step handles its own failures), but never silent.
      this.#report('The XREAD loop stopped; subscriptions no longer deliver', error)
    })
    return () => {
      if (!owner.listeners.delete(entry) || owner.listeners.size > 0) return
      if (this.#subs.get(stream) === owner) {
        this.#subs.delete(stream)
        this.#byReplyKey.delete(owner.replyKey)
      }
    }
  }

  /**
   * Ends the `XREAD` loop, closes the blocking connection and, with
   * `quitOnClose`, the command connection. Pending commands fail with
   * `SSE_STORE`. Idempotent; resolves when everything is closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    this.#closed = true
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    this.#failQueued(new Error('the store was closed'))
    this.#subs.clear()
    this.#byReplyKey.clear()
    this.#wake()
    const redis = this.#redis
    redis.off('ready', this.#onReady)
    redis.off('end', this.#onEnd)
    // Rejects the in-flight XREAD at once; the loop sees `#closed` and ends.
    const subscriber = this.#subscriber
    await Promise.all([
      subscriber === undefined ? undefined : closeConnection(subscriber, false, this.#timeout),
      this.#loopDone,
    ])
    if (this.#quitOnClose) await closeConnection(redis, true, this.#timeout)
  }

  // --- commands on the shared connection ---------------------------------

  /**
   * Runs a command on `#redis` once it is ready, in call order, failing with
   * `SSE_STORE` after `commandTimeout`. A command that timed out while
   * waiting for the connection is never sent.
   */
  #command<T>(what: string, run: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(storeError(what, new Error('the store is closed')))
    const redis = this.#redis
    return new Promise<T>((resolve, reject) => {
      let settled = false
      const settle = (ok: boolean, value: unknown): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        const index = this.#queue.indexOf(pending)
        if (index !== -1) this.#queue.splice(index, 1)
        if (ok) resolve(value as T)
        else reject(storeError(what, value))
      }
      const timer = setTimeout(() => {
        settle(false, new Error(`no reply within ${this.#timeout} ms (connection ${redis.status})`))
      }, this.#timeout)
      const pending: Pending = {
        send: () => {
          try {
            run(redis).then(
              (value) => settle(true, value),
              (error: unknown) => settle(false, error),
            )
          } catch (error) {
            settle(false, error)
          }
        },
        fail: (error) => settle(false, error),
      }
      if (redis.status === 'ready' && this.#queue.length === 0) {
        pending.send()
        return
      }
      this.#queue.push(pending)
      if (redis.status === 'ready') this.#scheduleFlush()
      else if (redis.status === 'end') pending.fail(new Error('the Redis connection is closed'))
      else if (redis.status === 'wait') redis.connect().catch(alreadyReported)
    })
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    queueMicrotask(() => {
      this.#flushScheduled = false
      this.#flush()
    })
  }

  #flush(): void {
    // `ready` is emitted a tick after the status changes: check it again.
    while (this.#queue.length > 0 && this.#redis.status === 'ready') this.#queue.shift()!.send()
  }

  #failQueued(error: Error): void {
    for (const pending of [...this.#queue]) pending.fail(error)
  }

  #report(message: string, cause: unknown): void {
    if (this.#closed || this.#onError === undefined) return
    const error = new SseError('SSE_STORE', `${message}: ${describe(cause)}`, { cause })
    try {
      this.#onError(error)
    } catch (thrown) {
      // A throwing onError is the caller's bug: surface it as a throwing
      // event listener would, without ending the XREAD loop.
      queueMicrotask(() => {
        throw thrown
      })
    }
  }

  #later(run: () => void, ms: number): void {
    if (this.#closed) return
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      run()
    }, ms)
    this.#timers.add(timer)
  }

  // --- the subscription loop ----------------------------------------------

  /**
   * Finds where a subscription starts. "From now on" means from the moment
   * `subscribe` was called, not from when Redis first answers: a process
   * subscribes at startup, before its connection is up, and other processes
   * may publish meanwhile. So it starts at the earliest of
   * - the stream's newest id, read on the command connection: every later
   *   append of this store comes after it in Redis's order;
   * - the first id of the millisecond of the call, in Redis's clock: its
   *   `TIME` now, minus how long ago the call was (so clock skew between
   *   this process and Redis does not matter);
   * - just before this store's first append since, should this read have
   *   failed and been retried after that append.
   */
  #start(sub: Subscription): void {
    this.#command('XREVRANGE', (redis) =>
      redis.multi().call('TIME').call('XREVRANGE', sub.key, '+', '-', 'COUNT', 1).exec(),
    )
      .then((replies) => {
        if (this.#subs.get(sub.stream) !== sub) return
        const [time, last] = replies ?? []
        if (time?.[0] != null || last?.[0] != null || time === undefined || last === undefined) {
          throw time?.[0] ?? last?.[0] ?? new Error('transaction aborted')
        }
        let cursor = toEvents(last[1])[0]?.id ?? '0-0'
        const [seconds, micros] = time[1] as [string, string]
        const elapsed = Math.ceil(performance.now() - sub.calledAt)
        const calledMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - elapsed
        const since = previousId(`${Math.max(0, calledMs)}-0`)
        if (compareIds(since, cursor) < 0) cursor = since
        if (sub.floor !== undefined && compareIds(sub.floor, cursor) <= 0) {
          cursor = previousId(sub.floor)
        }
        sub.cursor = cursor
        sub.floor = undefined
        this.#wake()
      })
      .catch((error: unknown) => {
        if (this.#closed || this.#subs.get(sub.stream) !== sub) return
        this.#report(`Could not start following "${sub.stream}"; retrying`, error)
        this.#later(() => this.#start(sub), backoff(++sub.attempts))
      })
  }

  #connection(): Redis {
    if (this.#subscriber !== undefined) return this.#subscriber
    const name = this.#redis.options.connectionName
    const subscriber = this.#redis.duplicate({
      // The loop waits for `ready` itself and re-reads from its cursor after
      // a failure: a queued or resent XREAD would carry stale ids.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      // A command timeout would cut every long BLOCK short.
      commandTimeout: undefined,
      lazyConnect: false,
      ...(name === undefined ? {} : { connectionName: `${name}:xread` }),
    })
    subscriber.on('error', (error: unknown) =>
      this.#report('Redis connection error (XREAD loop)', error),
    )
    subscriber.on('close', () => {
      this.#clientId = undefined
    })
    this.#subscriber = subscriber
    return subscriber
  }

  async #loop(): Promise<void> {
    const conn = this.#connection()
    let failures = 0
    while (!this.#closed) {
      if (!this.#hasStarted()) {
        await this.#pause(undefined)
        continue
      }
      if (conn.status !== 'ready') {
        await this.#untilReady(conn, failures)
        continue
      }
      try {
        if (this.#clientId === undefined) this.#clientId = Number(await conn.client('ID'))
        // Taken right before the XREAD is sent: a subscription that started
        // during an await above is covered without an unblock.
        const batch = new Set<Subscription>()
        for (const sub of this.#subs.values()) if (sub.cursor !== undefined) batch.add(sub)
        if (batch.size === 0) continue
        const reply = await this.#read(conn, batch)
        failures = 0
        this.#deliver(batch, reply)
      } catch (error) {
        if (this.#closed) break
        failures++
        this.#report('XREAD failed; resuming from the last delivered ids', error)
        // Still connected means Redis refused the command: do not spin.
        if (conn.status === 'ready') await this.#pause(backoff(failures))
      }
    }
  }

  #hasStarted(): boolean {
    for (const sub of this.#subs.values()) if (sub.cursor !== undefined) return true
    return false
  }

  async #read(conn: Redis, batch: Set<Subscription>): Promise<unknown> {
    const keys: string[] = []
    const ids: string[] = []
    for (const sub of batch) {
      keys.push(sub.key)
      ids.push(sub.cursor!)
    }
    this.#reading = batch
    const watchdog = setTimeout(() => conn.disconnect(true), this.#block + XREAD_GRACE_MS)
    try {
      return await conn.call(
        'XREAD',
        'COUNT',
        XREAD_COUNT,
        'BLOCK',
        this.#block,
        'STREAMS',
        ...keys,
        ...ids,
      )
    } finally {
      clearTimeout(watchdog)
      this.#reading = undefined
    }
  }

  #deliver(batch: Set<Subscription>, reply: unknown): void {
    for (const [replyKey, entries] of streamsOf(reply)) {
      const sub = this.#byReplyKey.get(replyKey)
      // Unsubscribed (or subscribed anew) while the XREAD was in flight.
      if (sub === undefined || !batch.has(sub)) continue
      for (const event of toEvents(entries)) {
        if (compareIds(event.id, sub.cursor!) <= 0) continue
        sub.cursor = event.id
        for (const entry of [...sub.listeners]) {
          if (!sub.listeners.has(entry)) continue
          try {
            entry.listener(event)
          } catch (error) {
            this.#report(`A listener of "${sub.stream}" threw`, error)
          }
        }
      }
    }
  }

  /** Waits `ms` (or, without it, until woken); `#wake` and `close` end it early. */
  #pause(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const done = (): void => {
        if (timer !== undefined) {
          clearTimeout(timer)
          this.#timers.delete(timer)
        }
        if (this.#wakeLoop === done) this.#wakeLoop = undefined
        resolve()
      }
      this.#wakeLoop = done
      if (this.#closed) done()
      else if (ms !== undefined) {
        timer = setTimeout(done, ms)
        this.#timers.add(timer)
      }
    })
  }

  async #untilReady(conn: Redis, failures: number): Promise<void> {
    if (conn.status === 'end') {
      // The retry strategy gave up (or returned no delay): try again later.
      await this.#pause(backoff(failures + 1))
      if (!this.#closed && conn.status === 'end') conn.connect().catch(alreadyReported)
      return
    }
    if (conn.status === 'wait') conn.connect().catch(alreadyReported)
    await new Promise<void>((resolve) => {
      const done = (): void => {
        conn.off('ready', done)
        if (this.#wakeLoop === done) this.#wakeLoop = undefined
        resolve()
      }
      conn.on('ready', done)
      this.#wakeLoop = done
      if (this.#closed) done()
    })
  }

  /**
   * Makes the loop pick up a subscription that just got its start position:
   * ends an idle wait, or unblocks an XREAD that does not cover it.
   */
  #wake(): void {
    const reading = this.#reading
    if (reading === undefined) {
      this.#wakeLoop?.()
      return
    }
    if (this.#closed || this.#unblocking === reading || this.#unblockUnsupported) return
    for (const sub of this.#subs.values()) {
      if (sub.cursor !== undefined && !reading.has(sub)) {
        this.#unblock(reading, 0)
        return
      }
    }
  }

  #unblock(reading: Set<Subscription>, attempt: number): void {
    const id = this.#clientId
    if (id === undefined || this.#reading !== reading || this.#closed) return
    this.#unblocking = reading
    const done = (): void => {
      if (this.#unblocking === reading) this.#unblocking = undefined
    }
    this.#command('CLIENT UNBLOCK', (redis) => redis.client('UNBLOCK', id))
      .then((unblocked) => {
        // 0: the XREAD has not reached Redis yet (it travels on another
        // connection); try again shortly while it is still the one in flight.
        if (unblocked === 0 && this.#reading === reading && attempt < 20) {
          this.#later(() => {
            done()
            this.#unblock(reading, attempt + 1)
          }, 5)
        } else {
          done()
        }
      })
      .catch((error: unknown) => {
        done()
        if ((error as { cause?: { name?: string } }).cause?.name === 'ReplyError') {
          // ACL or a managed Redis without CLIENT UNBLOCK: new subscriptions
          // then wait for the current XREAD to time out (`block`).
          this.#unblockUnsupported = true
        }
        this.#report(
          'CLIENT UNBLOCK failed; new subscriptions start within `block` ms instead',
          error,
        )
      })
  }
}

// --- reply parsing (RESP2, and RESP3 with either reply mapping) -------------

interface StreamInfo {
  length: number
  lastId: string
  firstId: string | undefined
  maxDeletedId: string | undefined
  entriesAdded: number | undefined
}

/** XINFO STREAM from a MULTI reply; undefined when the key does not exist. */
function streamInfo(result: [Error | null, unknown] | undefined): StreamInfo | undefined {
  if (result === undefined) throw storeError('XINFO', new Error('transaction aborted'))
  const [error, raw] = result
  if (error !== null) {
    if (/no such key/i.test(error.message)) return undefined
    throw storeError('XINFO', error)
  }
  const fields = new Map<string, unknown>()
  if (Array.isArray(raw))
    for (let i = 0; i + 1 < raw.length; i += 2) fields.set(String(raw[i]), raw[i + 1])
  else if (raw !== null && typeof raw === 'object')
    for (const [k, v] of Object.entries(raw)) fields.set(k, v)
  const first = fields.get('first-entry')
  const entriesAdded = fields.get('entries-added')
  const maxDeleted = fields.get('max-deleted-entry-id')
  return {
    length: Number(fields.get('length')),
    lastId: String(fields.get('last-generated-id') ?? '0-0'),
    firstId: Array.isArray(first) && first.length > 0 ? String(first[0]) : undefined,
    maxDeletedId: typeof maxDeleted === 'string' ? maxDeleted : undefined,
    entriesAdded: entriesAdded === undefined ? undefined : Number(entriesAdded),
  }
}

function gap(reason: 'expired' | 'unknown', info: StreamInfo | undefined): ReadAfterResult {
  const latestId = info === undefined || info.lastId === '0-0' ? undefined : info.lastId
  return latestId === undefined ? { gap: true, reason } : { gap: true, reason, latestId }
}

/** Stream entries (`[[id, [field, value, …]], …]`) as stored events. */
function toEvents(entries: unknown): StoredEvent[] {
  if (!Array.isArray(entries)) return []
  const events: StoredEvent[] = []
  for (const entry of entries) {
    if (!Array.isArray(entry)) continue
    const [id, fields] = entry as [unknown, unknown]
    let data = ''
    let event: string | undefined
    if (Array.isArray(fields)) {
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === 'data') data = String(fields[i + 1])
        else if (fields[i] === 'event') event = String(fields[i + 1])
      }
    }
    events.push(event === undefined ? { id: String(id), data } : { id: String(id), data, event })
  }
  return events
}

/** XREAD's reply as `[key, entries]` pairs: `[[key, entries], …]`, or a map under RESP3. */
function streamsOf(reply: unknown): Array<[string, unknown]> {
  if (reply === null || reply === undefined) return []
  if (Array.isArray(reply)) {
    if (reply.every((item) => Array.isArray(item))) {
      return reply.map((item) => [String(item[0]), item[1]] as [string, unknown])
    }
    const pairs: Array<[string, unknown]> = []
    for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), reply[i + 1]])
    return pairs
  }
  if (typeof reply === 'object') return Object.entries(reply)
  return []
}

// --- helpers ----------------------------------------------------------------

function storeError(what: string, cause: unknown): SseError {
  if (cause instanceof SseError) return cause
  return new SseError('SSE_STORE', `Redis ${what} failed: ${describe(cause)}`, { cause })
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Exponential from 100 ms, capped at 2 s, with jitter so processes do not retry in step. */
function backoff(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt - 1, 10), 2000) + Math.floor(Math.random() * 100)
}

// `connect()` rejects with the same error it emits as `error`, which is reported there.
function alreadyReported(): undefined {
  return undefined
}

/**
 * Closes a connection the store made and resolves once its socket is gone:
 * QUIT lets replies still on the way arrive; `graceful: false` drops it now.
 */
async function closeConnection(redis: Redis, graceful: boolean, timeout: number): Promise<void> {
  if (redis.status === 'end') return
  if (redis.status === 'reconnecting' || redis.status === 'close' || redis.status === 'wait') {
    // No socket: this cancels the pending reconnect, and no `end` follows.
    redis.disconnect()
    return
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  const gaveUp = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeout)
  })
  const ended = new Promise<void>((resolve) => redis.once('end', () => resolve()))
  // A failed QUIT falls through to disconnect below.
  if (graceful && redis.status === 'ready') redis.quit().catch(alreadyReported)
  else redis.disconnect()
  await Promise.race([ended, gaveUp])
  clearTimeout(timer)
  // Read again: the awaits above changed it.
  const status: string = redis.status
  if (status !== 'end') redis.disconnect()
}
