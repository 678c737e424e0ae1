/**
 * The options of `createNatsEngine`, their defaults, and their validation
 * (misuse is a `TypeError` at the call, with a hint).
 */

import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node'
import { MAX_SHARDS, type SseError } from '@sse/core'
import { assertSubjectPrefix } from './subjects'

/**
 * Options for `createNatsEngine`.
 *
 * @example
 * ```ts
 * createNatsEngine({ servers: process.env.NATS_URL, onError: (e) => log.warn(e) })
 * createNatsEngine({ servers: ['nats://a:4222', 'nats://b:4222'], replicas: 3 })
 * ```
 */
export interface NatsEngineOptions {
  /**
   * The NATS servers to connect to (one URL, a comma-separated list, or an
   * array). The engine owns the connection it opens and closes it in
   * `close()`. Ignored when `connection` is given.
   *
   * @defaultValue 'nats://127.0.0.1:4222'
   */
  servers?: string | string[] | undefined
  /**
   * A connection of yours instead of `servers` (from `@nats-io/transport-node`'s
   * `connect`). Not closed by the engine unless `closeConnection`.
   */
  connection?: NatsConnection | undefined
  /**
   * Options for the connection made from `servers` (credentials, TLS,
   * `name`…), over the engine's: reconnect forever, and wait for the first
   * connection instead of failing when no server answers yet.
   */
  connectionOptions?: NodeConnectionOptions | undefined
  /**
   * The JetStream stream holding every shard. Deployments with different
   * streams (and subject prefixes) never meet. `[A-Za-z0-9_-]`, up to 64.
   *
   * @defaultValue 'SSE'
   */
  stream?: string | undefined
  /**
   * Shard `n` is published to subject `<subjectPrefix>.<n>`; the stream
   * captures `<subjectPrefix>.*`.
   *
   * @defaultValue 'sse'
   */
  subjectPrefix?: string | undefined
  /**
   * How many shards topics are spread over (1 to 32). A process consumes
   * only the shards its sessions need, and a Last-Event-ID holds one
   * position per shard. Fixed for the life of the stream: changing it moves
   * topics to other shards.
   *
   * @defaultValue 16
   */
  shards?: number | undefined
  /**
   * Create the stream when it does not exist, with `replicas`, `storage`,
   * `maxLen` and `maxAge`. An existing stream is used as it is (those four
   * options are then ignored); it must capture `<subjectPrefix>.*`.
   *
   * @defaultValue true
   */
  createStream?: boolean | undefined
  /** Replicas of a stream the engine creates (1 to 5; 3 on a cluster). @defaultValue 1 */
  replicas?: number | undefined
  /** Storage of a stream the engine creates. @defaultValue 'file' */
  storage?: 'file' | 'memory' | undefined
  /**
   * Events kept per shard in a stream the engine creates
   * (`max_msgs_per_subject`), or `false` for no limit.
   *
   * @defaultValue 10_000
   */
  maxLen?: number | false | undefined
  /** Milliseconds an event is kept in a stream the engine creates (`max_age`), or `false`. @defaultValue false */
  maxAge?: number | false | undefined
  /**
   * Milliseconds an append or a history read may take, waiting for a
   * connection and a stream leader included, before it fails with
   * `SSE_STORE`. Must stay under the stream's duplicate window (2 minutes
   * by default), within which a resent append is not logged twice.
   *
   * @defaultValue 5000
   */
  commandTimeout?: number | undefined
  /**
   * Milliseconds between checks of the stream against what this process
   * delivered (one stream info for all followed shards), and the heartbeat
   * interval of its consumers: how soon a recreated stream or a stalled
   * consumer is noticed.
   *
   * @defaultValue 1000
   */
  checkInterval?: number | undefined
  /**
   * Close `connection` in `close()`: for a connection made only for this
   * engine. A connection the engine opens itself is always closed.
   *
   * @defaultValue false
   */
  closeConnection?: boolean | undefined
  /**
   * Background problems: a consumer restarting, a follower resetting, a
   * malformed message, a failed check. Every error has code `SSE_STORE` and
   * the original error as `cause`. The engine keeps retrying either way.
   */
  onError?: ((error: SseError) => void) | undefined
}

/** The options with their defaults, validated. */
export interface Settings {
  stream: string
  subjectPrefix: string
  shards: number
  createStream: boolean
  replicas: number
  storage: 'file' | 'memory'
  maxLen: number | false
  maxAge: number | false
  commandTimeout: number
  checkInterval: number
}

const STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/

/** Applies defaults and throws a `TypeError` for a value out of range. */
export function settingsOf(options: NatsEngineOptions): Settings {
  const fail = (message: string): never => {
    throw new TypeError(`createNatsEngine: ${message}`)
  }
  const settings: Settings = {
    stream: options.stream ?? 'SSE',
    subjectPrefix: options.subjectPrefix ?? 'sse',
    shards: options.shards ?? 16,
    createStream: options.createStream ?? true,
    replicas: options.replicas ?? 1,
    storage: options.storage ?? 'file',
    maxLen: options.maxLen ?? 10_000,
    maxAge: options.maxAge ?? false,
    commandTimeout: options.commandTimeout ?? 5000,
    checkInterval: options.checkInterval ?? 1000,
  }
  if (typeof settings.stream !== 'string' || !STREAM_NAME.test(settings.stream)) {
    fail('`stream` must be 1 to 64 characters of [A-Za-z0-9_-] (a JetStream stream name)')
  }
  assertSubjectPrefix(settings.subjectPrefix, 'createNatsEngine: `subjectPrefix`')
  const integer = (value: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
    Number.isInteger(value) && value >= min && value <= max
  if (!integer(settings.shards, 1, MAX_SHARDS)) {
    fail(`\`shards\` must be an integer from 1 to ${MAX_SHARDS}`)
  }
  if (!integer(settings.replicas, 1, 5)) fail('`replicas` must be an integer from 1 to 5')
  if (settings.storage !== 'file' && settings.storage !== 'memory') {
    fail("`storage` must be 'file' or 'memory'")
  }
  if (settings.maxLen !== false && !integer(settings.maxLen, 1)) {
    fail('`maxLen` must be an integer >= 1 or false')
  }
  if (settings.maxAge !== false && !integer(settings.maxAge, 1)) {
    fail('`maxAge` must be an integer >= 1 (ms) or false')
  }
  if (!(settings.commandTimeout > 0)) fail('`commandTimeout` must be > 0 (ms)')
  if (!(settings.checkInterval >= 100)) fail('`checkInterval` must be >= 100 (ms)')
  if (options.connection !== undefined && typeof options.connection?.request !== 'function') {
    fail('`connection` must be a NATS connection (from `connect()` of @nats-io/transport-node)')
  }
  return settings
}
