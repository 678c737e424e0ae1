/**
 * The engine's NATS connection: the caller's, or one it opens and keeps
 * open. A connection it opens is tried again (with backoff) until a server
 * answers, then reconnects forever on its own; `close()` ends either for
 * good, pending attempts included, so nothing of the engine's is left
 * running behind it.
 *
 *   connecting ──(a server answered)──► connected ──(close)──► closed
 *       │ (failed: wait, try again)                               ▲
 *       └────────────────────────(close)──────────────────────────┘
 */

import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import {
  connect,
  type NatsConnection,
  type NodeConnectionOptions,
  type Status,
} from '@nats-io/transport-node'
import { backoff, type Clients, CREATE_TIMEOUT } from './consumer'
import type { Report } from './errors'
import { storeError } from './errors'

/** The connection and the JetStream clients over it. */
export interface JetStreamClients extends Clients {
  js: ReturnType<typeof jetstream>
}

/** See the file comment. */
export interface EngineConnection {
  /** Resolves once connected (never, if closed first). */
  readonly connected: Promise<NatsConnection>
  /** The clients, or `SSE_STORE` when not connected within `timeout` ms. */
  clients(): Promise<JetStreamClients>
  /** Stops connecting; closes the connection if the engine owns it. */
  close(): Promise<void>
}

export interface ConnectionSettings {
  servers: string | string[]
  given: NatsConnection | undefined
  owned: boolean
  options: NodeConnectionOptions | undefined
  /** Milliseconds a request (and waiting for the connection) may take. */
  timeout: number
  report: Report
  /** Called for every status of the connection (reconnects, errors). */
  onStatus(status: Status): void
}

export function openConnection(settings: ConnectionSettings): EngineConnection {
  let closed = false
  let wake: (() => void) | undefined
  let current: NatsConnection | undefined

  async function dial(): Promise<NatsConnection> {
    if (settings.given !== undefined) return settings.given
    for (let attempt = 1; ; attempt++) {
      try {
        const nc = await connect({
          servers: settings.servers,
          name: '@sse/nats',
          // Once connected, reconnect forever: operations are bounded by commandTimeout.
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          ...settings.options,
        })
        if (closed) await nc.close()
        return nc
      } catch (error) {
        if (closed) throw error
        settings.report('Could not connect to NATS; retrying', error)
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, backoff(attempt) * 5).unref?.()
        })
        if (closed) throw storeError('connect', new Error('the engine is closed'))
      }
    }
  }

  const connected = dial()
  const ready: Promise<JetStreamClients> = connected.then(async (nc) => {
    current = nc
    void watch(nc)
    const api = { timeout: settings.timeout }
    const jsm = await jetstreamManager(nc, { ...api, checkAPI: false })
    const quickJsm = await jetstreamManager(nc, {
      timeout: Math.min(CREATE_TIMEOUT, settings.timeout),
      checkAPI: false,
    })
    return { nc, js: jetstream(nc, api), jsm, quickJsm }
  })
  // Failures reach callers through clients(); this keeps an unobserved one quiet.
  ready.catch(() => undefined)

  async function watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) settings.onStatus(status)
  }

  return {
    connected,
    clients() {
      if (closed) return Promise.reject(storeError('request', new Error('the engine is closed')))
      let timer: ReturnType<typeof setTimeout> | undefined
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(storeError('connect', new Error(`not connected within ${settings.timeout} ms`)))
        }, settings.timeout)
      })
      return Promise.race([ready, late]).finally(() => clearTimeout(timer))
    },
    async close() {
      closed = true
      wake?.()
      if (settings.owned && current !== undefined) await current.close()
    },
  }
}
