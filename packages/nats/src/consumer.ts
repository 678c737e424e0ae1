/**
 * An ordered consumer of one shard's subject: an ephemeral JetStream push
 * consumer (one replica, in memory, no acks, flow control, idle heartbeats)
 * whose messages are handed over in stream order, each once. Whenever that
 * can no longer be vouched for, it is replaced by a new consumer that starts
 * where its owner says (after the last sequence handed over):
 *
 *   creating ──(consumer created)──► running ──(trouble)──► creating …
 *      │  (failed: retried with backoff)      │
 *      └───────────────(stop)──► stopped ◄────┘
 *
 * Trouble is: a delivery sequence that skips one (a message lost on the
 * way), an idle heartbeat saying more was delivered than arrived, no message
 * and no heartbeat for three heartbeat intervals (the server holding the
 * consumer died, or the connection hangs), the consumer deleted under us,
 * the connection back after a drop ({@link OrderedConsumer.restart}).
 */

import {
  AckPolicy,
  type ConsumerInfo,
  DeliverPolicy,
  type JetStreamManager,
} from '@nats-io/jetstream'
import {
  createInbox,
  type Msg,
  type NatsConnection,
  nanos,
  type Subscription,
} from '@nats-io/transport-node'
import type { Report } from './errors'

/** The connection and its JetStream manager, once connected. */
export interface Clients {
  nc: NatsConnection
  jsm: JetStreamManager
  /**
   * The same manager with a short request timeout, for creating consumers:
   * while a cluster elects leaders its API does not answer, and a follower
   * should ask again soon rather than wait out the command timeout.
   */
  quickJsm?: JetStreamManager
}

/** The longest a consumer-creation request waits before it is retried. */
export const CREATE_TIMEOUT = 2000

/** What a consumer needs from its owner. */
export interface ConsumerSource {
  /** The clients; may wait for the connection (a rejection is retried). */
  clients(): Promise<Clients>
  stream: string
  subject: string
  /** Idle heartbeat interval, ms. */
  heartbeat: number
  report: Report
  /**
   * Called before every consumer is created: the first stream sequence it
   * must deliver. A rejection is reported and the creation retried.
   */
  start(): Promise<number>
  /** Called once a consumer is created, with its info (`num_pending` at creation). */
  created?(info: ConsumerInfo): void
  /** A message: its stream sequence, body, and how many more the consumer had pending then. */
  message(seq: number, data: Uint8Array, pending: number): void
  /** An idle heartbeat: nothing more is pending for now. */
  idle?(): void
}

type State = 'creating' | 'running' | 'stopped'

/** A running consumer is replaced after this many heartbeat intervals without a sign of life. */
const MISSED_HEARTBEATS = 3
/** An abandoned consumer (its process died) is removed by the server after this long. */
const INACTIVE_THRESHOLD = 30_000

/** See the file comment. */
export class OrderedConsumer {
  readonly #source: ConsumerSource
  #state: State = 'creating'
  // Bumped for every consumer: messages to an older one's inbox are ignored.
  #generation = 0
  #clients: Clients | undefined
  #subscription: Subscription | undefined
  #name: string | undefined
  #delivered = 0
  #seen = 0
  #watchdog: ReturnType<typeof setInterval> | undefined
  #retry: ReturnType<typeof setTimeout> | undefined

  constructor(source: ConsumerSource) {
    this.#source = source
    void this.#create(1)
  }

  /** Replaces the consumer (after a reconnect, or when its owner saw a problem). */
  restart(why: string): void {
    if (this.#state === 'stopped') return
    this.#source.report(`Restarting the consumer of ${this.#source.subject}`, new Error(why))
    this.#replace()
  }

  /** Stops delivering; resolves once the consumer is deleted (or that failed: the server removes it later). */
  stop(): Promise<void> {
    if (this.#state === 'stopped') return Promise.resolve()
    this.#state = 'stopped'
    this.#generation++
    clearTimeout(this.#retry)
    return this.#discard()
  }

  #replace(): void {
    this.#state = 'creating'
    this.#generation++
    void this.#discard()
    void this.#create(1)
  }

  #discard(): Promise<void> {
    clearInterval(this.#watchdog)
    this.#watchdog = undefined
    this.#subscription?.unsubscribe()
    this.#subscription = undefined
    const name = this.#name
    this.#name = undefined
    if (name === undefined || this.#clients === undefined) return Promise.resolve()
    // The server would remove it after INACTIVE_THRESHOLD anyway.
    return this.#clients.jsm.consumers.delete(this.#source.stream, name).then(
      () => undefined,
      () => undefined,
    )
  }

  async #create(attempt: number): Promise<void> {
    const generation = this.#generation
    const source = this.#source
    const inbox = createInbox()
    let subscription: Subscription | undefined
    try {
      const clients = await source.clients()
      const from = await source.start()
      if (generation !== this.#generation) return
      this.#clients = clients
      subscription = clients.nc.subscribe(inbox, {
        callback: (error, msg) => this.#receive(generation, error, msg),
      })
      this.#subscription = subscription
      this.#delivered = 0
      this.#seen = Date.now()
      const info = await (clients.quickJsm ?? clients.jsm).consumers.add(source.stream, {
        deliver_subject: inbox,
        filter_subject: source.subject,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: from,
        ack_policy: AckPolicy.None,
        flow_control: true,
        idle_heartbeat: nanos(source.heartbeat),
        mem_storage: true,
        num_replicas: 1,
        inactive_threshold: nanos(INACTIVE_THRESHOLD),
      })
      if (generation !== this.#generation) {
        clients.jsm.consumers.delete(source.stream, info.name).catch(() => undefined)
        return
      }
      this.#name = info.name
      this.#state = 'running'
      this.#seen = Date.now()
      this.#watchdog = setInterval(() => this.#watch(), source.heartbeat)
      this.#watchdog.unref?.()
      source.created?.(info)
    } catch (error) {
      if (generation !== this.#generation) return
      subscription?.unsubscribe()
      source.report(`Could not start consuming ${source.subject}; retrying`, error)
      this.#retry = setTimeout(() => {
        if (generation === this.#generation) void this.#create(attempt + 1)
      }, backoff(attempt))
      this.#retry.unref?.()
    }
  }

  #watch(): void {
    if (Date.now() - this.#seen > MISSED_HEARTBEATS * this.#source.heartbeat) {
      this.restart('no message or heartbeat for three heartbeat intervals')
    }
  }

  #receive(generation: number, error: Error | null, msg: Msg): void {
    if (generation !== this.#generation) return
    this.#seen = Date.now()
    if (error !== null) {
      this.restart(`subscription failed: ${error.message}`)
      return
    }
    const status = msg.headers?.code ?? 0
    if (status !== 0 && msg.data.length === 0) {
      this.#status(msg, status)
      return
    }
    const delivery = deliveryOf(msg.reply ?? '')
    if (delivery === undefined) {
      this.#source.report(
        `Ignored a message on ${msg.subject}`,
        new Error('not a JetStream delivery'),
      )
      return
    }
    if (delivery.delivered !== this.#delivered + 1) {
      this.restart(`delivery ${delivery.delivered} after ${this.#delivered}`)
      return
    }
    this.#delivered = delivery.delivered
    this.#source.message(delivery.seq, msg.data, delivery.pending)
  }

  #status(msg: Msg, status: number): void {
    const headers = msg.headers!
    if (status === 100) {
      // A flow control request, or a heartbeat (which may carry one the server is stalled on).
      if (msg.reply) msg.respond()
      const stalled = headers.get('Nats-Consumer-Stalled')
      if (stalled) this.#clients?.nc.publish(stalled)
      const last = headers.get('Nats-Last-Consumer')
      if (last !== '' && Number(last) > this.#delivered) {
        this.restart(`the server delivered ${last}, ${this.#delivered} arrived`)
      } else if (headers.description.toLowerCase().includes('heartbeat')) {
        this.#source.idle?.()
      }
      return
    }
    // 409 Consumer Deleted, and anything else unexpected.
    this.restart(`status ${status} ${headers.description}`)
  }
}

/** The sequences of a JetStream delivery, from its reply subject. */
function deliveryOf(
  reply: string,
): { seq: number; delivered: number; pending: number } | undefined {
  // $JS.ACK.<stream>.<consumer>.<count>.<seq>.<delivered>.<ns>.<pending>, or with
  // <domain>.<account hash> after ACK (and a random token at the end).
  const tokens = reply.split('.')
  if (tokens[0] !== '$JS' || tokens[1] !== 'ACK') return undefined
  const at = tokens.length === 9 ? 2 : tokens.length >= 11 ? 4 : -1
  if (at < 0) return undefined
  const seq = Number(tokens[at + 3])
  const delivered = Number(tokens[at + 4])
  const pending = Number(tokens[at + 6])
  if (!(Number.isSafeInteger(seq) && Number.isSafeInteger(delivered))) return undefined
  return { seq, delivered, pending: Number.isSafeInteger(pending) ? pending : 0 }
}

/** Exponential from 100 ms, capped at 2 s, with jitter so processes do not retry in step. */
export function backoff(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt - 1, 10), 2000) + Math.floor(Math.random() * 100)
}
