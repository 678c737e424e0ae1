/**
 * A real Redis Cluster for tests: `redis-server` processes from PATH on free
 * 127.0.0.1 ports (never 6379), joined with `redis-cli --cluster create`.
 *
 * Each node is a child of this process (`--daemonize no`), so it is killed by
 * the PID we own and nothing else. A node goes:
 *
 *   spawned → answers PING → converged → killed (kill) → spawned (restart) …
 *                                                   └──→ gone (stop)
 *
 * "Converged" means every running node says `cluster_state:ok`, every running
 * node sees the same running nodes with the same roles and slots (none of
 * them flagged failing), running masters cover all 16384 slots, and every
 * replica's link to its master is up.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { closeSync, openSync, rmSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { type AddressInfo, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

const HOST = '127.0.0.1'
/** Redis Cluster's bus listens on the client port + 10000. */
const BUS_OFFSET = 10_000
const SHARED_REDIS_PORT = 6379
const SLOT_COUNT = 16_384
const POLL_MS = 50
const STOP_GRACE_MS = 1000
const STARTUP_TIMEOUT_MS = 30_000

/**
 * Options for {@link startRedisCluster}.
 *
 * @example
 * ```ts
 * await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeout: 2000 })
 * ```
 */
export interface RedisClusterOptions {
  /** Master nodes; `redis-cli --cluster create` needs at least 3. @defaultValue 3 */
  masters?: number
  /** Replicas of each master. @defaultValue 1 */
  replicasPerMaster?: number
  /** `cluster-node-timeout` in ms: how long a silent node takes to count as failed. @defaultValue 2000 */
  nodeTimeout?: number
}

/**
 * One running node as the cluster sees it.
 *
 * @example
 * ```ts
 * const masters = (await redis.nodes()).filter((node) => node.role === 'master')
 * ```
 */
export interface RedisClusterNode {
  port: number
  pid: number
  role: 'master' | 'replica'
  /** Inclusive `[first, last]` slot ranges (empty for a replica). */
  slots: Array<[number, number]>
}

/**
 * A started cluster, whose nodes a test can kill, fail over, restart and stop.
 *
 * @example
 * ```ts
 * const { port } = await redis.masterOf('key')
 * await redis.kill(port)
 * const { newMasterPort } = await redis.waitForFailover(port)
 * ```
 */
export interface RedisCluster {
  /** Every node's address, for `new Cluster(startupNodes)`. */
  startupNodes: Array<{ host: '127.0.0.1'; port: number }>
  /** The running nodes with their roles and slots, from `CLUSTER NODES` of a running node. */
  nodes(): Promise<RedisClusterNode[]>
  /** The running master that serves `key`'s slot (`CLUSTER KEYSLOT`); rejects while none does. */
  masterOf(key: string): Promise<{ port: number; pid: number }>
  /** Sends `signal` (default SIGKILL) to the node's process and waits for it to exit. */
  kill(port: number, signal?: NodeJS.Signals): Promise<void>
  /** Waits until a replica has taken over the killed master's slots and the cluster has converged. */
  waitForFailover(oldMasterPort: number): Promise<{ newMasterPort: number }>
  /** Waits until every replica has acknowledged everything its master has written. */
  waitForReplication(): Promise<void>
  /** Starts a killed node again in its old directory and waits until the cluster has converged. */
  restart(port: number): Promise<void>
  /** Kills every process the fixture started (SIGTERM, then SIGKILL) and removes their directories; idempotent. */
  stop(): Promise<void>
}

interface NodeProcess {
  port: number
  dir: string
  child: ChildProcess
  exited: Promise<void>
  /** Set when the process could not be spawned at all (no redis-server on PATH). */
  spawnError?: Error
}

/** A node that exited or never started: polling it again cannot help. */
class NodeGone extends Error {}

/** A node's line in `CLUSTER NODES`. */
interface NodeView {
  id: string
  port: number
  flags: string[]
  masterId: string
  slots: Array<[number, number]>
}

/**
 * Starts a Redis Cluster of `masters × (1 + replicasPerMaster)` local
 * `redis-server` processes and resolves once it has converged.
 *
 * @example
 * ```ts
 * const redis = await startRedisCluster()
 * afterAll(() => redis.stop())
 * const client = new Cluster(redis.startupNodes)
 * ```
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3
  const replicasPerMaster = options.replicasPerMaster ?? 1
  const nodeTimeout = options.nodeTimeout ?? 2000
  if (!Number.isInteger(masters) || masters < 3) {
    throw new TypeError(
      `masters must be an integer >= 3 (redis-cli --cluster create), not ${masters}`,
    )
  }
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
    throw new TypeError(`replicasPerMaster must be an integer >= 0, not ${replicasPerMaster}`)
  }
  if (!Number.isInteger(nodeTimeout) || nodeTimeout <= 0) {
    throw new TypeError(`nodeTimeout must be a positive integer (ms), not ${nodeTimeout}`)
  }

  const processes = new Map<number, NodeProcess>()
  const reserved = new Set([SHARED_REDIS_PORT, SHARED_REDIS_PORT + BUS_OFFSET])
  // Best effort for a test run that ends without stop(): `exit` handlers must be synchronous.
  const killAll = () => {
    for (const node of processes.values()) {
      if (isRunning(node)) node.child.kill('SIGKILL')
      rmSync(node.dir, { recursive: true, force: true })
    }
  }
  process.once('exit', killAll)
  const running = () => [...processes.values()].filter(isRunning)
  const logs = () => logTails([...processes.values()])
  const waitTimeout = Math.max(STARTUP_TIMEOUT_MS, nodeTimeout * 10)

  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      const all = [...processes.values()]
      for (const node of all) if (isRunning(node)) node.child.kill('SIGTERM')
      await Promise.all(all.map((node) => exitWithin(node, STOP_GRACE_MS)))
      for (const node of all) if (isRunning(node)) node.child.kill('SIGKILL')
      await Promise.all(all.map((node) => node.exited))
      process.off('exit', killAll)
      await Promise.all(all.map((node) => rm(node.dir, { recursive: true, force: true })))
    })()
    return stopping
  }

  /** `args` on the first running node that answers. */
  const ask = async (args: Command): Promise<unknown> => {
    let lastError: unknown
    for (const node of running()) {
      try {
        return await command(node.port, args)
      } catch (error) {
        lastError = error
      }
    }
    throw new Error(`no node of the cluster answers ${args.join(' ')}`, { cause: lastError })
  }
  const view = async () => parseClusterNodes(String(await ask(['CLUSTER', 'NODES'])))

  const nodes = async (): Promise<RedisClusterNode[]> => {
    const pids = new Map(running().map((node) => [node.port, node.child.pid!]))
    return (await view())
      .filter((seen) => pids.has(seen.port))
      .map((seen) => ({
        port: seen.port,
        pid: pids.get(seen.port)!,
        role: seen.flags.includes('master') ? ('master' as const) : ('replica' as const),
        slots: seen.slots,
      }))
      .sort((a, b) => a.port - b.port)
  }

  const converged = () => untilConverged(running, waitTimeout, logs)

  try {
    // One at a time, so that no two nodes are handed the same free port.
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      await startNode(reserved, processes, nodeTimeout, logs)
    }
    const ports = [...processes.keys()]
    await runRedisCli([
      '--cluster',
      'create',
      ...ports.map((port) => `${HOST}:${port}`),
      '--cluster-replicas',
      String(replicasPerMaster),
      '--cluster-yes',
    ]).catch(async (error: unknown) => {
      throw new Error(`redis-cli --cluster create failed\n${await logs()}`, { cause: error })
    })
    await untilConverged(running, STARTUP_TIMEOUT_MS, logs)
  } catch (error) {
    await stop()
    throw error
  }

  const known = (port: number): NodeProcess => {
    const node = processes.get(port)
    if (!node) throw new TypeError(`${HOST}:${port} is not a node of this cluster`)
    if (stopping) throw new TypeError('the cluster was stopped')
    return node
  }
  // Slots of killed masters, so that waitForFailover knows what to wait for.
  const slotsAtKill = new Map<number, Array<[number, number]>>()

  return {
    startupNodes: [...processes.keys()].map((port) => ({ host: HOST, port })),
    nodes,
    async masterOf(key) {
      const slot = Number(await ask(['CLUSTER', 'KEYSLOT', key]))
      const owner = (await nodes()).find(
        (node) =>
          node.role === 'master' &&
          node.slots.some(([first, last]) => slot >= first && slot <= last),
      )
      if (!owner) throw new Error(`no running master serves slot ${slot} (failover under way?)`)
      return { port: owner.port, pid: owner.pid }
    },
    async kill(port, signal = 'SIGKILL') {
      const node = known(port)
      if (!isRunning(node)) return
      const seen = (await view().catch(() => [])).find((other) => other.port === port)
      slotsAtKill.set(port, seen?.slots ?? [])
      node.child.kill(signal)
      await node.exited
    },
    async waitForFailover(oldMasterPort) {
      const node = known(oldMasterPort)
      if (isRunning(node)) {
        throw new TypeError(`${HOST}:${oldMasterPort} is still running; kill it first`)
      }
      const slots = slotsAtKill.get(oldMasterPort) ?? []
      if (slots.length === 0) throw new TypeError(`${HOST}:${oldMasterPort} served no slots`)
      await converged()
      const owner = (await nodes()).find((other) =>
        other.slots.some(([first, last]) => slots[0]![0] >= first && slots[0]![0] <= last),
      )
      return { newMasterPort: owner!.port }
    },
    async waitForReplication() {
      await poll('replicas to catch up with their masters', waitTimeout, logs, async () => {
        for (const node of running()) {
          const info = parseInfo(String(await command(node.port, ['INFO', 'replication'])))
          if (info.get('role') !== 'master') continue
          const offset = info.get('master_repl_offset')
          for (const [field, value] of info) {
            if (/^slave\d+$/.test(field) && !value.includes(`,offset=${offset},`)) return false
          }
        }
        return true
      })
    },
    async restart(port) {
      const node = known(port)
      if (isRunning(node)) throw new TypeError(`${HOST}:${port} is still running`)
      const again = spawnRedis(port, node.dir, nodeTimeout)
      processes.set(port, again)
      await untilAnswers(again, logs)
      await converged()
    },
    stop,
  }
}

function isRunning(node: NodeProcess): boolean {
  const { child } = node
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null
}

function spawnRedis(port: number, dir: string, nodeTimeout: number): NodeProcess {
  const config: Record<string, string> = {
    port: String(port),
    bind: HOST,
    'cluster-enabled': 'yes',
    'cluster-config-file': `nodes-${port}.conf`,
    'cluster-node-timeout': String(nodeTimeout),
    save: '',
    appendonly: 'no',
    daemonize: 'no',
    dir,
    // Redis waits 5 s by default for more replicas before a diskless full sync.
    'repl-diskless-sync-delay': '0',
  }
  const args = Object.entries(config).flatMap(([name, value]) => [`--${name}`, value])
  const log = openSync(join(dir, 'redis.log'), 'a')
  const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', log, log] })
  closeSync(log)
  let node: NodeProcess | undefined
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', (error) => {
      node!.spawnError = error
      // Without a PID there is no exit to wait for.
      if (child.pid === undefined) resolve()
    })
  })
  node = { port, dir, child, exited }
  return node
}

/** Starts one node on a free port pair, retrying when another process takes the ports first. */
async function startNode(
  reserved: Set<number>,
  processes: Map<number, NodeProcess>,
  nodeTimeout: number,
  logs: () => Promise<string>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePortPair(reserved)
    const dir = await mkdtemp(join(tmpdir(), `redis-cluster-${port}-`))
    const node = spawnRedis(port, dir, nodeTimeout)
    processes.set(port, node)
    try {
      await untilAnswers(node, logs)
      return
    } catch (error) {
      const log = await readFile(join(dir, 'redis.log'), 'utf8').catch(() => '')
      if (attempt >= 5 || isRunning(node) || !/address already in use/i.test(log)) throw error
      processes.delete(port)
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** A port whose bus port (+10000) is free too, neither reserved; reserves both. */
async function freePortPair(reserved: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const server = await listenOn(0)
    if (!server) continue
    const port = (server.address() as AddressInfo).port
    const bus = port + BUS_OFFSET <= 65_535 ? await listenOn(port + BUS_OFFSET) : undefined
    await Promise.all([closeServer(server), bus && closeServer(bus)])
    if (bus && !reserved.has(port) && !reserved.has(port + BUS_OFFSET)) {
      reserved.add(port)
      reserved.add(port + BUS_OFFSET)
      return port
    }
  }
  throw new Error('found no free port pair (port, port + 10000) on 127.0.0.1')
}

/** Listens on `port`; undefined when it is taken. */
function listenOn(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(undefined))
    server.listen({ port, host: HOST, exclusive: true }, () => resolve(server))
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

async function untilAnswers(node: NodeProcess, logs: () => Promise<string>): Promise<void> {
  await poll(`${HOST}:${node.port} to answer PING`, STARTUP_TIMEOUT_MS, logs, async () => {
    if (!isRunning(node)) {
      // A failed spawn reports its error only after this check may have run.
      await node.exited
      const { spawnError } = node
      throw spawnError
        ? new NodeGone(`could not start redis-server (is it on PATH?): ${spawnError.message}`, {
            cause: spawnError,
          })
        : new NodeGone(`redis-server on ${HOST}:${node.port} exited\n${await logs()}`)
    }
    return (await command(node.port, ['PING']).catch(() => undefined)) === 'PONG'
  })
}

async function untilConverged(
  running: () => NodeProcess[],
  timeoutMs: number,
  logs: () => Promise<string>,
): Promise<void> {
  await poll('the cluster to converge', timeoutMs, logs, async () => {
    const nodes = running()
    const ports = new Set(nodes.map((node) => node.port))
    let agreed: string | undefined
    for (const node of nodes) {
      const [info, nodesText, replicationText] = await commands(node.port, [
        ['CLUSTER', 'INFO'],
        ['CLUSTER', 'NODES'],
        ['INFO', 'replication'],
      ])
      if (!String(info).includes('cluster_state:ok')) return false
      const seen = parseClusterNodes(String(nodesText))
      const live = seen.filter((other) => ports.has(other.port))
      if (live.length !== ports.size) return false
      if (live.some((other) => other.flags.some((flag) => FAILING.has(flag)))) return false
      const masters = live.filter((other) => other.flags.includes('master'))
      const covered = masters.flatMap((m) => m.slots).reduce((n, [a, b]) => n + b - a + 1, 0)
      if (covered !== SLOT_COUNT) return false
      const summary = JSON.stringify(
        live
          .map(({ id, port, flags, masterId, slots }) => [
            id,
            port,
            flags.includes('master'),
            masterId,
            slots,
          ])
          .sort(),
      )
      if (agreed !== undefined && summary !== agreed) return false
      agreed = summary
      const replication = parseInfo(String(replicationText))
      if (replication.get('role') === 'slave' && replication.get('master_link_status') !== 'up') {
        return false
      }
    }
    return true
  })
}

const FAILING = new Set(['fail', 'fail?', 'handshake', 'noaddr'])

/** Polls `check` until it returns true; after `timeoutMs`, throws with the nodes' log tails. */
async function poll(
  what: string,
  timeoutMs: number,
  logs: () => Promise<string>,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      if (await check()) return
      lastError = undefined
    } catch (error) {
      // A node that is gone fails at once; a node that is busy or starting is polled again.
      if (error instanceof NodeGone) throw error
      lastError = error
    }
    if (Date.now() > deadline) {
      const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      const message = `timed out after ${timeoutMs} ms waiting for ${what}${last}`
      throw new Error(`${message}\n${await logs()}`, { cause: lastError })
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

type Command = [string, ...string[]]

/** One command on a fresh connection; see {@link commands}. */
async function command(port: number, args: Command): Promise<unknown> {
  const [reply] = await commands(port, [args])
  return reply
}

/** Commands in order on one fresh connection, so that a dead or restarted node never leaves a stale one. */
async function commands(port: number, list: Command[]): Promise<unknown[]> {
  const redis = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 2000,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
  })
  // Errors reach the caller through the rejected command.
  redis.on('error', () => undefined)
  try {
    await redis.connect()
    const replies: unknown[] = []
    for (const args of list) replies.push(await redis.call(...args))
    return replies
  } finally {
    redis.disconnect()
  }
}

function runRedisCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: STARTUP_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stdout}${stderr}`, { cause: error }))
      else resolve(stdout)
    })
  })
}

/** `CLUSTER NODES`: `<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>…` */
function parseClusterNodes(text: string): NodeView[] {
  return text
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const [id = '', address = '', flags = '', masterId = '', , , , , ...slots] = line
        .trim()
        .split(' ')
      const hostPort = address.split('@')[0]!
      return {
        id,
        port: Number(hostPort.slice(hostPort.lastIndexOf(':') + 1)),
        flags: flags.split(','),
        masterId,
        // `[slot->-id]` and `[slot-<-id]` are slots being migrated, not served.
        slots: slots
          .filter((range) => !range.startsWith('['))
          .map((range) => {
            const [first, last = first] = range.split('-').map(Number) as [number, number?]
            return [first, last] as [number, number]
          }),
      }
    })
}

function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1))
  }
  return fields
}

function exitWithin(node: NodeProcess, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    node.exited,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

async function logTails(nodes: NodeProcess[]): Promise<string> {
  const tails = await Promise.all(
    nodes.map(async (node) => {
      const log = await readFile(join(node.dir, 'redis.log'), 'utf8').catch(() => '(no log)')
      const tail = log.trimEnd().split('\n').slice(-15).join('\n')
      return `--- ${HOST}:${node.port} (${join(node.dir, 'redis.log')}) ---\n${tail}`
    }),
  )
  return tails.join('\n')
}
