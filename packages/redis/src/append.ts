/**
 * Appending an event to a shard: one Lua script, atomic on the shard's node.
 *
 * The script reads the id the shard's stream generated last, `XADD`s the
 * entry (trimming by length, then by age in Redis's own clock), stores the
 * new id, and `SPUBLISH`es `<prev> <id> <payload>` on the shard's channel.
 * `prev` lets every follower tell a delivered message from a lost one.
 *
 * Appends are idempotent when the client may resend a command cut off by a
 * dropped connection, which may already have run (a Cluster does during a
 * failover unless `retryDelayOnFailover` is 0; a Redis client does after a
 * reconnect unless `autoResendUnfulfilledCommands` is false, as on the
 * connections the engine makes): each append then carries a nonce,
 * remembered per shard in two generations of {@link NONCE_GENERATION} (the
 * last 1,000 to 2,000 appends), and one whose nonce is there returns the id
 * it got before and publishes nothing. That about doubles the script's cost
 * in Redis (4 more commands), so it is off when nothing resends.
 *
 * With `waitReplicas` > 0 the script and `WAIT` go in one pipeline, so WAIT
 * runs on the very connection (on a Cluster, the very node) that ran the
 * append; fewer replicas than asked within `waitTimeout` rejects. That is
 * the failover guarantee: an accepted append is on that many replicas.
 *
 * The script is called by its SHA (`EVALSHA`). A node that does not have it
 * (first use, a restart, a replica promoted by a failover) answers NOSCRIPT
 * without running it; a Cluster node that does not own the slot any more
 * answers MOVED (ioredis follows that itself, except in the WAIT pipeline).
 * Either way the script did not run: new appends wait until every append in
 * flight has answered, the slot map is refreshed if needed, and those
 * appends are sent again with `EVAL`, in their original order, before the
 * waiting ones. So appends of one process reach a shard in call order.
 */

import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import type { Client, CommandRunner } from './commands'
import { storeError } from './errors'
import type { ShardKeys } from './keys'
import type { Result } from './replies'

/** Appends remembered per nonce generation. */
export const NONCE_GENERATION = 1000

// KEYS: stream, last id, nonces, previous nonces, channel.
// ARGV: payload, nonce ('' = none), maxLen ('' = none), maxAge ms ('' = none),
// generation size.
const SCRIPT = `
local nonce = ARGV[2] ~= ''
if nonce then
  local seen = redis.call('HGET', KEYS[3], ARGV[2]) or redis.call('HGET', KEYS[4], ARGV[2])
  if seen then return {seen, 1} end
end
local prev = redis.call('GET', KEYS[2]) or '0-0'
local id
if ARGV[3] ~= '' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[1])
else
  id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[1])
end
if ARGV[4] ~= '' then
  local now = redis.call('TIME')
  local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[4])
  if oldest > 0 then
    redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d-0', oldest))
  end
end
redis.call('SET', KEYS[2], id)
if nonce then
  if redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[5]) then
    redis.call('RENAME', KEYS[3], KEYS[4])
  end
  redis.call('HSET', KEYS[3], ARGV[2], id)
end
redis.call('SPUBLISH', KEYS[5], prev .. ' ' .. id .. ' ' .. ARGV[1])
return {id, 0}
`

const SHA = createHash('sha1').update(SCRIPT).digest('hex')

/** Retention and acknowledgement, as validated by the engine. */
export interface AppendOptions {
  maxLen: number | false
  maxAge: number | false
  waitReplicas: number
  waitTimeout: number
}

/** Appends to shards; see the file comment. */
export interface Appender {
  /**
   * Appends `payload` to the shard of `keys`, resolving with its stream id
   * once accepted; `nonce` ('' for none) makes a resent append a no-op.
   */
  append(keys: ShardKeys, payload: string, nonce: string): Promise<string>
}

interface Job {
  seq: number
  keys: ShardKeys
  payload: string
  nonce: string
  resends: number
  resolve: (id: string) => void
  reject: (error: unknown) => void
}

/** The script did not run: the node lacks it (NOSCRIPT), or does not own the slot (MOVED…). */
type NotRun = { notRun: 'noscript' | 'redirected'; error: Error }

/** How often one append is sent again before it fails. */
const MAX_RESENDS = 10

/** Creates the appender over `runner`. */
export function createAppender(
  runner: CommandRunner,
  client: Client,
  options: AppendOptions,
): Appender {
  const { waitReplicas, waitTimeout } = options
  const limits = [
    options.maxLen === false ? '' : String(options.maxLen),
    options.maxAge === false ? '' : String(options.maxAge),
    String(NONCE_GENERATION),
  ]
  let seq = 0
  let inFlight = 0
  // Set from the first NotRun until every append in flight has answered.
  let recovering = false
  let redirected = false
  let notRun: Job[] = []
  let parked: Job[] = []

  function send(job: Job, useEval: boolean): void {
    inFlight++
    runner
      .run('append', (redis) => attempt(redis, job, useEval))
      .then(
        (outcome) => {
          inFlight--
          if (typeof outcome === 'string') job.resolve(outcome)
          else if (++job.resends > MAX_RESENDS) job.reject(storeError('append', outcome.error))
          else {
            recovering = true
            redirected ||= outcome.notRun === 'redirected'
            notRun.push(job)
          }
          recover()
        },
        (error: unknown) => {
          inFlight--
          job.reject(error)
          recover()
        },
      )
  }

  function recover(): void {
    if (!recovering || inFlight > 0) return
    if (redirected) {
      // A Cluster's slot map is stale (a failover, a migration): refresh it, then go on.
      redirected = false
      const resends = Math.max(...notRun.map((job) => job.resends))
      refreshSlots(client, 50 * resends, () => recover())
      return
    }
    recovering = false
    const again = notRun.sort((a, b) => a.seq - b.seq)
    const waiting = parked
    notRun = []
    parked = []
    for (const job of again) send(job, true)
    for (const job of waiting) send(job, false)
  }

  async function attempt(redis: Client, job: Job, useEval: boolean): Promise<string | NotRun> {
    const { stream, last, nonces, previousNonces, channel } = job.keys
    const args = [
      useEval ? 'EVAL' : 'EVALSHA',
      useEval ? SCRIPT : SHA,
      5,
      stream,
      last,
      nonces,
      previousNonces,
      channel,
      job.payload,
      job.nonce,
      ...limits,
    ] as const
    if (waitReplicas === 0) {
      try {
        return idOf(await redis.call(...args))
      } catch (error) {
        return notRunBy(error) ?? Promise.reject(error)
      }
    }
    const results = (await redis
      .pipeline()
      .call(...args)
      .call('WAIT', waitReplicas, waitTimeout)
      .exec()) as Result[] | null
    const [script, wait] = results ?? []
    if (script === undefined || wait === undefined) throw new Error('pipeline aborted')
    if (script[0] !== null) return notRunBy(script[0]) ?? Promise.reject(script[0])
    if (wait[0] !== null) throw wait[0]
    const acknowledged = Number(wait[1])
    if (acknowledged < waitReplicas) {
      throw new Error(
        `WAIT: ${acknowledged} of ${waitReplicas} replicas acknowledged within ${waitTimeout} ms`,
      )
    }
    return idOf(script[1])
  }

  return {
    append(keys, payload, nonce) {
      return new Promise<string>((resolve, reject) => {
        const job: Job = { seq: seq++, keys, payload, nonce, resends: 0, resolve, reject }
        if (recovering) parked.push(job)
        else send(job, false)
      })
    },
  }
}

// ioredis follows MOVED itself for single commands; a pipeline whose other
// command succeeded (WAIT) is handed back as is, with the slot map stale.
function notRunBy(error: unknown): NotRun | undefined {
  if (!(error instanceof Error)) return undefined
  if (error.message.startsWith('NOSCRIPT')) return { notRun: 'noscript', error }
  if (/^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /.test(error.message)) {
    return { notRun: 'redirected', error }
  }
  return undefined
}

/** Refreshes a Cluster's slot map (after at least `delay` ms), then calls `done`. */
function refreshSlots(client: Client, delay: number, done: () => void): void {
  const timer = setTimeout(() => {
    if (!client.isCluster) done()
    else (client as Cluster).refreshSlotsCache(() => done())
  }, delay)
  timer.unref?.()
}

function idOf(reply: unknown): string {
  const id = Array.isArray(reply) ? reply[0] : undefined
  if (typeof id !== 'string' && !(id instanceof Buffer)) {
    throw new Error(`unexpected reply to the append script: ${String(reply)}`)
  }
  return String(id)
}

/** Whether `client` may send a command again after a dropped connection (see the file comment). */
export function mayResend(client: Client): boolean {
  if (client.isCluster) return ((client as Cluster).options.retryDelayOnFailover ?? 100) > 0
  return (client as Redis).options.autoResendUnfulfilledCommands !== false
}
