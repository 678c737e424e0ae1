/**
 * The sharded pub/sub connection a process follows shards on.
 *
 * Standalone Redis (7+ has `SSUBSCRIBE` without cluster mode): one
 * connection duplicated from the command connection, opened on first use.
 * ioredis reconnects it after a drop; its own resubscription is off
 * (`autoResubscribe: false`) because we need to know when the channels are
 * subscribed again: on every `ready` this resubscribes every channel and,
 * once Redis confirmed, calls `resubscribed` (followers then check what they
 * missed while disconnected). `probe()` pings it: a socket that stopped
 * answering (a silent network failure) is reset.
 *
 * Cluster: ioredis's sharded subscribers (`shardedSubscribers: true`), one
 * connection per master, made and replaced by ioredis. When a master fails,
 * its subscriber ends; ioredis refreshes the slots, retries (emitting
 * `error` and `subscribersReady` every few ms while the master is down),
 * and once a replica took over, subscribes the channels again on the new
 * master without confirming it, then emits `subscribersReady`. Each of those
 * calls `resubscribed`; a message lost in between is caught by the next
 * message's `prev` or by the followers' periodic check.
 */

import type { Cluster, Redis } from 'ioredis'
import { alreadyReported, type Client, closeConnection } from './commands'
import type { Report } from './errors'

/** What the subscription connection tells the engine. */
export interface SubscriberEvents {
  /** A message on a channel (the name as Redis sent it, with any `keyPrefix`). */
  message(channel: string, message: string): void
  /** Channels were (or, on a Cluster, may have been) subscribed again after a connection change. */
  resubscribed(): void
  report: Report
}

/** Sharded pub/sub for the engine; see the file comment. */
export interface Subscriber {
  /** Subscribes `channel` (as passed to ioredis, which adds any `keyPrefix`); resolves once confirmed. */
  subscribe(channel: string): Promise<void>
  /** Unsubscribes `channel`; failures are reported. */
  unsubscribe(channel: string): void
  /** Checks the connection is alive. */
  probe(): void
  /** Stops listening and closes what this made. */
  close(): Promise<void>
}

/** Creates the subscriber for `client`. */
export function createSubscriber(
  client: Client,
  events: SubscriberEvents,
  timeout: number,
): Subscriber {
  return client.isCluster
    ? clusterSubscriber(client as Cluster, events)
    : standaloneSubscriber(client as Redis, events, timeout)
}

function standaloneSubscriber(
  client: Redis,
  events: SubscriberEvents,
  timeout: number,
): Subscriber {
  const channels = new Set<string>()
  let connection: Redis | undefined
  // Subscriptions asked for while disconnected: settled by the next resubscription.
  let waiting: Array<{ resolve: () => void; reject: (error: unknown) => void }> = []
  let probing: { sent: number } | undefined

  function open(): Redis {
    if (connection !== undefined) return connection
    const name = client.options.connectionName
    const opened = client.duplicate({
      enableOfflineQueue: false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      lazyConnect: false,
      ...(name === undefined ? {} : { connectionName: `${name}:sub` }),
    })
    opened.on('smessage', events.message)
    opened.on('error', (error: unknown) =>
      events.report('Redis subscriber connection error', error),
    )
    opened.on('ready', () => resubscribe(opened))
    opened.on('close', () => {
      probing = undefined
    })
    connection = opened
    return opened
  }

  function resubscribe(conn: Redis): void {
    const settling = waiting
    waiting = []
    Promise.all([...channels].map((channel) => conn.ssubscribe(channel))).then(
      () => {
        for (const { resolve } of settling) resolve()
        events.resubscribed()
      },
      (error: unknown) => {
        for (const { reject } of settling) reject(error)
        events.report('SSUBSCRIBE after reconnecting failed; reconnecting again', error)
        conn.disconnect(true)
      },
    )
  }

  return {
    subscribe(channel) {
      channels.add(channel)
      const conn = open()
      if (conn.status === 'ready') return conn.ssubscribe(channel).then(() => undefined)
      if (conn.status === 'wait' || conn.status === 'end') conn.connect().catch(alreadyReported)
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }))
    },
    unsubscribe(channel) {
      if (!channels.delete(channel) || connection?.status !== 'ready') return
      connection.sunsubscribe(channel).catch((error: unknown) => {
        events.report(`SUNSUBSCRIBE ${channel} failed`, error)
      })
    },
    probe() {
      const conn = connection
      if (conn === undefined || conn.status !== 'ready' || channels.size === 0) return
      if (probing !== undefined) {
        if (Date.now() - probing.sent < timeout) return
        probing = undefined
        events.report('The subscriber connection stopped answering', new Error('PING timed out'))
        conn.disconnect(true)
        return
      }
      const probe = { sent: Date.now() }
      probing = probe
      conn.ping().then(() => {
        if (probing === probe) probing = undefined
      }, alreadyReported)
    },
    async close() {
      for (const { reject } of waiting) reject(new Error('the engine was closed'))
      waiting = []
      channels.clear()
      if (connection !== undefined) await closeConnection(connection, false, timeout)
    },
  }
}

function clusterSubscriber(cluster: Cluster, events: SubscriberEvents): Subscriber {
  // Names as they arrive (with the keyPrefix ioredis adds): a Cluster passed
  // in may carry other subscribers' channels too.
  const channels = new Set<string>()
  const prefix = cluster.options.keyPrefix ?? ''
  const onMessage = (channel: string, message: string): void => {
    if (channels.has(channel)) events.message(channel, message)
  }
  const onReady = (): void => events.resubscribed()
  cluster.on('smessage', onMessage)
  cluster.on('subscribersReady', onReady)
  return {
    subscribe(channel) {
      channels.add(prefix + channel)
      return cluster.ssubscribe(channel).then(() => undefined)
    },
    unsubscribe(channel) {
      if (!channels.delete(prefix + channel)) return
      cluster.sunsubscribe(channel).catch((error: unknown) => {
        events.report(`SUNSUBSCRIBE ${channel} failed`, error)
      })
    },
    probe() {
      // ioredis replaces a failed sharded subscriber itself.
    },
    async close() {
      cluster.off('smessage', onMessage)
      cluster.off('subscribersReady', onReady)
      const names = [...channels].map((channel) => channel.slice(prefix.length))
      channels.clear()
      await Promise.all(
        names.map((channel) => cluster.sunsubscribe(channel).catch(alreadyReported)),
      )
    },
  }
}
