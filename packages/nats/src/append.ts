/**
 * Appending an event to a shard: a JetStream publish to the shard's
 * subject, acknowledged once the stream has stored it (on a replicated
 * stream, once a quorum of its replicas has).
 *
 * Each append carries a message id (`Nats-Msg-Id`) unique to it and the
 * shard. An attempt that timed out or found no stream leader (a failover
 * under way) is sent again with the same id until `commandTimeout` runs
 * out; if the first attempt was stored after all, the stream's duplicate
 * window (2 minutes by default) recognizes the id and acknowledges the
 * first copy instead of storing a second. `Nats-Expected-Stream` makes an
 * append that another stream captured fail instead of going astray.
 *
 * Appends of one process reach the stream in call order while nothing
 * fails; one sent again lands after those sent meanwhile.
 */

import { JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream'
import { RequestError, TimeoutError } from '@nats-io/transport-node'
import { backoff } from './consumer'
import { storeError } from './errors'

/** What the appender needs from the engine. */
export interface AppendSource {
  js: () => Promise<JetStreamClient>
  stream: string
  /** Milliseconds an append may take in all, retries included. */
  timeout: number
  /** Called before retrying an append that found no stream (it may need creating). */
  noStream(): Promise<void>
}

/** Appends `payload` to `subject` under message id `id`; see the file comment. */
export async function append(
  source: AppendSource,
  subject: string,
  payload: Uint8Array,
  id: string,
): Promise<void> {
  const deadline = Date.now() + source.timeout
  // Long enough for a loaded stream leader, short enough to retry within the deadline.
  const attemptTimeout = Math.max(500, Math.floor(source.timeout / 3))
  for (let attempt = 1; ; attempt++) {
    try {
      const js = await source.js()
      const remaining = deadline - Date.now()
      const ack = await js.publish(subject, payload, {
        msgID: id,
        expect: { streamName: source.stream },
        timeout: Math.max(1, Math.min(remaining, attemptTimeout)),
      })
      if (ack.stream !== source.stream) {
        throw new Error(`stored by stream ${ack.stream}, not ${source.stream}`)
      }
      return
    } catch (error) {
      const wait = backoff(attempt)
      if (!isTransient(error) || Date.now() + wait >= deadline) {
        throw storeError(`append to ${subject}`, error)
      }
      if (isNoResponders(error)) await source.noStream().catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}

function isNoResponders(error: unknown): boolean {
  return error instanceof RequestError && error.isNoResponders()
}

/** Whether sending the same append again may succeed. */
function isTransient(error: unknown): boolean {
  if (error instanceof TimeoutError || isNoResponders(error)) return true
  // While a cluster elects a stream or meta leader, the servers left answer
  // "jetstream is not enabled" (a class the client does not export): seen
  // when the stream leader of a 3-node cluster is killed. A server without
  // JetStream at all gives the same answer, and fails at the deadline.
  if ((error as Error | null)?.name === 'JetStreamNotEnabled') return true
  // 503: JetStream temporarily unavailable (no leader yet).
  return error instanceof JetStreamApiError && error.status === 503
}
