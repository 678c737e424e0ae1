/**
 * The engine interface: where a hub's events are logged and how they reach
 * every process.
 *
 * Topics are spread over a fixed number of shards (`shardOf`). Each shard is
 * one ordered log: an append gets a position, positions only grow, and a
 * follower of a shard receives every appended event once, in order. An event
 * published to topics on several shards is appended to each of them, every
 * copy carrying all of its topics; the hub delivers one copy per session (the
 * lowest shard among the topics that session matches), live and in replay
 * alike.
 *
 * A client's Last-Event-ID is a position per shard (see `event-id.ts`), so it
 * stays short whatever the number of topics.
 *
 * `createMemoryEngine` (one process) is the default; `@sse/redis` provides
 * one on Redis Streams and Redis Cluster.
 */

/** A value or a promise of it: in-process engines answer synchronously, network ones do not. */
export type MaybePromise<T> = T | Promise<T>

/** An event as the hub hands it to an engine: data already serialized. */
export interface EngineEvent {
  /** Every topic the event was published to (validated, distinct). */
  topics: readonly string[]
  /** The serialized data. */
  data: string
  /** The event type, if any. */
  event?: string | undefined
  /** The conflation key, if any (see `PublishOptions.key`); engines must store it. */
  key?: string | undefined
}

/** An event read back from a shard. */
export interface ShardEvent extends EngineEvent {
  /** Its position in the shard: opaque, ordered by {@link Engine.compare}. */
  position: string
}

/** What {@link Engine.read} returns. */
export type ShardReadResult =
  | { gap: false; events: ShardEvent[] }
  /**
   * The position cannot be resumed from: `expired` when events after it were
   * dropped by retention, `unknown` when this log never issued it (a restart
   * without persistence, another deployment, a forged id).
   */
  | { gap: true; reason: 'expired' | 'unknown' }

/** What a follower of a shard is told. */
export interface FollowHandlers {
  /** Every event appended after the start position, once, in order. */
  event(event: ShardEvent): void
  /**
   * The shard's log lost events this follower had already delivered, or has
   * a hole it cannot fill (a failover to a replica that lagged, a restart
   * without persistence). Following goes on from `position`; the hub sends
   * `resync` to the sessions that read this shard.
   */
  reset(position: string): void
}

/** A shard being followed. */
export interface Following {
  /**
   * Resolves with the position following starts after, once it is known and
   * live delivery is set up; `event` is not called before.
   */
  readonly ready: Promise<string>
  /** Stops following. */
  stop(): void
}

/**
 * An event log sharded by topic, with live delivery per shard: what a hub
 * runs on. Implement it to run hubs on another system.
 */
export interface Engine {
  /** How many shards topics are spread over (1 to 32). */
  readonly shards: number
  /** The shard of a topic: a pure function of the topic, the same in every process. */
  shardOf(topic: string): number
  /**
   * Appends the event to each of `shards` (the distinct shards of its
   * topics), resolving once the engine has accepted it.
   */
  append(shards: readonly number[], event: EngineEvent): MaybePromise<void>
  /** Every retained event of `shard` after `position`, oldest first, or a gap. */
  read(shard: number, position: string): MaybePromise<ShardReadResult>
  /** Follows `shard` live from now on. */
  follow(shard: number, handlers: FollowHandlers): Following
  /**
   * Whether `position` is one this engine could have issued (its shape only).
   * Checked before an untrusted Last-Event-ID reaches `read` or `compare`.
   * Positions are at most 27 characters of `[0-9A-Za-z._~-]`.
   */
  isPosition(position: string): boolean
  /** Orders two valid positions: within a shard exactly, across shards roughly by time. */
  compare(a: string, b: string): number
  /** Releases connections and timers; the engine is unusable after. */
  close?(): MaybePromise<void>
}

/** The longest position an engine may issue (so a 32-shard id stays under 1,024 characters). */
export const MAX_POSITION_LENGTH = 27

/** The most shards an engine may have. */
export const MAX_SHARDS = 32
