/**
 * Commands on the shared connection: sent in call order once the connection
 * is ready, each failing with `SSE_STORE` after `commandTimeout` (waiting for
 * the connection included). A command that timed out while waiting is never
 * sent; one already sent may still take effect (Redis cannot be told to
 * forget it), which is why appends are idempotent (see append.ts).
 */

import type { Cluster, Redis } from 'ioredis'
import { storeError } from './errors'

/** A standalone (or Sentinel) client, or a Cluster. */
export type Client = Redis | Cluster

/** Runs commands on one client; see the file comment. */
export interface CommandRunner {
  /** Runs `command` when the client is ready; rejects with `SSE_STORE` naming `what`. */
  run<T>(what: string, command: (client: Client) => Promise<T>): Promise<T>
  /** Fails every waiting and later command with `reason`, and stops listening to the client. */
  close(reason: string): void
}

interface Waiting {
  seq: number
  send: () => void
  fail: (error: unknown) => void
}

// ioredis refuses a command it cannot write (the connection just dropped,
// its status still says ready): the command was not sent, so it waits for
// the reconnect like any other.
const NOT_SENT = "Stream isn't writeable"

/** Creates the runner for `client`. */
export function createCommandRunner(client: Client, timeout: number): CommandRunner {
  // Waiting for the connection, in call order (so that a follower's start
  // position is read before any later append of this process).
  const queue: Waiting[] = []
  let seq = 0
  let flushScheduled = false
  let closedReason: string | undefined

  // `ready` is emitted a tick after the status changes, and the status lags
  // behind a socket the server closed: check both.
  const canSend = (): boolean =>
    client.status === 'ready' && (client.isCluster || (client as Redis).stream?.writable !== false)
  const flush = (): void => {
    while (queue.length > 0 && canSend()) queue.shift()!.send()
  }
  const enqueue = (waiting: Waiting): void => {
    let at = queue.length
    while (at > 0 && queue[at - 1]!.seq > waiting.seq) at--
    queue.splice(at, 0, waiting)
  }
  const onEnd = (): void => {
    for (const waiting of [...queue]) waiting.fail(new Error('the Redis connection was closed'))
  }
  client.on('ready', flush)
  client.on('end', onEnd)

  function run<T>(what: string, command: (client: Client) => Promise<T>): Promise<T> {
    if (closedReason !== undefined) return Promise.reject(storeError(what, new Error(closedReason)))
    return new Promise<T>((resolve, reject) => {
      let settled = false
      const settle = (ok: boolean, value: unknown): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        const index = queue.indexOf(waiting)
        if (index !== -1) queue.splice(index, 1)
        if (ok) resolve(value as T)
        else reject(storeError(what, value))
      }
      const timer = setTimeout(() => {
        settle(false, new Error(`no reply within ${timeout} ms (connection ${client.status})`))
      }, timeout)
      const retry = (error: unknown): void => {
        if (settled) return
        if (!(error instanceof Error && error.message.startsWith(NOT_SENT))) {
          settle(false, error)
          return
        }
        enqueue(waiting)
        if (canSend()) scheduleFlush()
      }
      const waiting: Waiting = {
        seq: seq++,
        send: () => {
          try {
            command(client).then((value) => settle(true, value), retry)
          } catch (error) {
            retry(error)
          }
        },
        fail: (error) => settle(false, error),
      }
      if (canSend() && queue.length === 0) {
        waiting.send()
        return
      }
      queue.push(waiting)
      if (canSend()) scheduleFlush()
      else if (client.status === 'end') waiting.fail(new Error('the Redis connection is closed'))
      else if (client.status === 'wait') client.connect().catch(alreadyReported)
    })
  }

  function scheduleFlush(): void {
    if (flushScheduled) return
    flushScheduled = true
    queueMicrotask(() => {
      flushScheduled = false
      flush()
    })
  }

  return {
    run,
    close(reason) {
      closedReason ??= reason
      client.off('ready', flush)
      client.off('end', onEnd)
      for (const waiting of [...queue]) waiting.fail(new Error(reason))
    },
  }
}

/** For promises whose rejection is also emitted as `error` and reported there. */
export function alreadyReported(): undefined {
  return undefined
}

/**
 * Closes a connection this package made and resolves once its socket is
 * gone: QUIT lets replies still on the way arrive; `graceful: false` drops
 * it now. Gives up waiting after `timeout` ms and disconnects.
 */
export async function closeConnection(
  client: Client,
  graceful: boolean,
  timeout: number,
): Promise<void> {
  if (client.status === 'end') return
  if (client.status === 'reconnecting' || client.status === 'close' || client.status === 'wait') {
    // No socket: this cancels the pending reconnect, and no `end` follows.
    client.disconnect()
    return
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  const gaveUp = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeout)
  })
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()))
  // A failed QUIT falls through to disconnect below.
  if (graceful && client.status === 'ready') client.quit().catch(alreadyReported)
  else client.disconnect()
  await Promise.race([ended, gaveUp])
  clearTimeout(timer)
  // Read again: the awaits above changed it.
  const status: string = client.status
  if (status !== 'end') client.disconnect()
}
