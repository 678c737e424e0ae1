/**
 * The JetStream stream behind an engine: created when missing (if allowed),
 * checked to capture every shard's subject, and asked for its state and for
 * the first or last message of one shard.
 *
 * Every question goes to the stream leader (`STREAM.INFO`, `STREAM.MSG.GET`),
 * never to a replica that might lag behind what followers were delivered.
 */

import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  type MsgRequest,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream'
import { nanos } from '@nats-io/transport-node'
import { SseError } from '@sse/core'
import type { Settings } from './options'
import { epochOf } from './positions'
import { shardSubject } from './subjects'

// JetStream API error codes (`err_code`).
const STREAM_NOT_FOUND = 10059
const STREAM_NAME_IN_USE = 10058

/** The stream's state at one moment. */
export interface StreamSnapshot {
  /** Its creation time in µs: changes when the stream is deleted and created again. */
  epoch: number
  /** The sequence of its oldest message (its last + 1 when it holds none). */
  first: number
  /** The sequence of its newest message (0 before any). */
  last: number
  /** How many messages it holds. */
  messages: number
  /**
   * Whether its limits can remove every event of a subject (`max_age`, or
   * stream-wide `max_msgs` or `max_bytes`); `max_msgs_per_subject` alone
   * always keeps a subject's newest.
   */
  emptiesSubjects: boolean
}

/** Questions to the stream; see the file comment. */
export interface StreamAccess {
  /** Its state now, creating it first when it is missing and `createStream` allows. */
  snapshot(): Promise<StreamSnapshot>
  /** The sequence of the first message on `subject` at or after `from`, if any. */
  firstOn(subject: string, from: number): Promise<number | undefined>
  /** The sequence of the last message on `subject`, if any. */
  lastOn(subject: string): Promise<number | undefined>
}

/** The stream configuration `createStream` uses. */
export function streamConfig(settings: Settings): Partial<StreamConfig> & { name: string } {
  return {
    name: settings.stream,
    subjects: [`${settings.subjectPrefix}.*`],
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    storage: settings.storage === 'memory' ? StorageType.Memory : StorageType.File,
    num_replicas: settings.replicas,
    max_msgs_per_subject: settings.maxLen === false ? -1 : settings.maxLen,
    max_age: settings.maxAge === false ? 0 : nanos(settings.maxAge),
  }
}

export function createStreamAccess(
  manager: () => Promise<JetStreamManager>,
  settings: Settings,
): StreamAccess {
  const name = settings.stream
  // The epoch whose subjects were checked: a recreated stream is checked again.
  let checked: number | undefined

  async function info(jsm: JetStreamManager): Promise<StreamInfo> {
    try {
      return await jsm.streams.info(name)
    } catch (error) {
      if (!(settings.createStream && isStreamNotFound(error))) throw error
    }
    try {
      return await jsm.streams.add(streamConfig(settings))
    } catch (error) {
      // Another process created it first (with another configuration, say): use theirs.
      if (isApiError(error, STREAM_NAME_IN_USE)) return jsm.streams.info(name)
      throw error
    }
  }

  function check(stream: StreamInfo, epoch: number): void {
    if (checked === epoch) return
    const filters = stream.config.subjects ?? []
    for (let shard = 0; shard < settings.shards; shard++) {
      const subject = shardSubject(settings.subjectPrefix, shard)
      if (!filters.some((filter) => captures(filter, subject))) {
        throw new SseError(
          'SSE_STORE',
          `NATS stream ${name} does not capture ${subject} (its subjects: ${filters.join(', ')}); add '${settings.subjectPrefix}.*' to them`,
        )
      }
    }
    checked = epoch
  }

  return {
    async snapshot() {
      const stream = await info(await manager())
      const epoch = epochOf(stream.created)
      check(stream, epoch)
      const { first_seq: first, last_seq: last, messages } = stream.state
      const { max_age: maxAge, max_msgs: maxMsgs, max_bytes: maxBytes } = stream.config
      const emptiesSubjects = maxAge > 0 || maxMsgs > 0 || maxBytes > 0
      // A stream that never held a message reports first 0; every other, last + 1 when empty.
      return { epoch, first: last === 0 ? 1 : first, last, messages, emptiesSubjects }
    },
    async firstOn(subject, from) {
      const jsm = await manager()
      // STREAM.MSG.GET takes `next_by_subj` (server >= 2.9) though the client only types it for direct gets.
      const query = { seq: from, next_by_subj: subject } as unknown as MsgRequest
      const found = await jsm.streams.getMessage(name, query)
      return found?.seq
    },
    async lastOn(subject) {
      const jsm = await manager()
      const found = await jsm.streams.getMessage(name, { last_by_subj: subject })
      return found?.seq
    },
  }
}

/** Whether a NATS subject filter (with `*` and `>`) matches a literal subject. */
export function captures(filter: string, subject: string): boolean {
  const want = filter.split('.')
  const have = subject.split('.')
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '>') return have.length > i
    if (i >= have.length || (want[i] !== '*' && want[i] !== have[i])) return false
  }
  return want.length === have.length
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code
}

/** Whether `error` says the stream does not exist. */
export function isStreamNotFound(error: unknown): boolean {
  return isApiError(error, STREAM_NOT_FOUND)
}
