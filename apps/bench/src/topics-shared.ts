/**
 * What the topics question's processes share: the topic plan (which
 * connection subscribes to which topics), the engine a node runs on, the
 * published event, and the messages they exchange over IPC.
 *
 * The plan keeps the work per event the same at every number of topics: each
 * topic has exactly one subscribed connection in each of two groups (one
 * group per server process, or both on the one memory-engine process), so
 * every event is delivered exactly twice whether there is 1 topic or 100,000.
 * Only the number of topics, and with it of connections and subscriptions,
 * changes between rows.
 */

/** Exact topics per connection: 100,000 topics are 1,000 connections per group. */
export const TOPICS_PER_CONNECTION = 100

/** Connection groups; each topic has one subscribed connection in each. */
export const GROUPS = 2

export function topicName(index: number): string {
  return `users/${index}`
}

/** The topics `[first, first + count)` one connection subscribes to. */
export interface Slice {
  first: number
  count: number
}

/** How `topics` topics are spread over one group's connections. */
export function slicesOf(topics: number): Slice[] {
  const slices: Slice[] = []
  for (let first = 0; first < topics; first += TOPICS_PER_CONNECTION) {
    slices.push({ first, count: Math.min(TOPICS_PER_CONNECTION, topics - first) })
  }
  return slices
}

/** The request path that subscribes a connection to a slice. */
export function pathOf(slice: Slice): string {
  return `/events?first=${slice.first}&count=${slice.count}`
}

/** What a node's hub runs on. */
export type EngineSpec =
  | { kind: 'memory' }
  | { kind: 'redis'; url: string; prefix: string }
  | { kind: 'cluster'; nodes: Array<{ host: string; port: number }>; prefix: string }
  | { kind: 'nats'; servers: string[]; stream: string; subjectPrefix: string; replicas: number }

/** A node: a hub on an engine that serves HTTP, publishes, or both. */
export interface NodeSpec {
  engine: EngineSpec
  serve: boolean
}

/** The data of every published event: its sequence number, topic index and send time (µs). */
export interface Tick {
  seq: number
  topic: number
  sentAt: number
}

/** One round's publishing: `events` events at `rate` per second to random topics. */
export interface PublishPlan {
  topics: number
  events: number
  rate: number
  firstSeq: number
  seed: number
}

// Orchestrator → node.
export type NodeCommand =
  | { type: 'state' }
  /** Starts measuring CPU (and profiling it, with `TOPICS_CPU_PROF`) for a round of `topics`. */
  | { type: 'begin'; topics: number }
  | { type: 'end' }
  | ({ type: 'publish' } & PublishPlan)
  | { type: 'exit' }

// Node → orchestrator.
export type NodeReply =
  | { type: 'listening'; port: number }
  /** Open sessions, and those whose subscription is live (its `ready` resolved). */
  | { type: 'state'; sessions: number; ready: number }
  | { type: 'begun' }
  | { type: 'cpu'; cpuUs: number }
  | { type: 'published'; events: number; cpuUs: number }
  | { type: 'error'; message: string }

// Orchestrator → clients.
export type ClientsCommand =
  /** Opens every connection of the plan for `topics`, group `g` to `ports[g]`. */
  | { type: 'connect'; topics: number; ports: number[] }
  /** Expects events `[firstSeq, firstSeq + events)`, each once per group; fails after `timeoutMs`. */
  | { type: 'expect'; events: number; firstSeq: number; timeoutMs: number }
  | { type: 'disconnect' }
  | { type: 'exit' }

// Clients → orchestrator.
export type ClientsReply =
  | { type: 'connected'; connections: number }
  | { type: 'expecting' }
  | {
      type: 'received'
      deliveries: number
      bytes: number
      p50Us: number
      p99Us: number
      /** From the first send time to the last receive time. */
      spanUs: number
    }
  | { type: 'disconnected' }
  | { type: 'error'; message: string }
