import { randomUUID } from 'node:crypto'
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { createHub, type Hub, type HubOptions, type SseError } from '@sse/core'
import { createNatsEngine, type NatsEngine, type NatsEngineOptions } from '@sse/nats'
import { afterAll, describe, expect, test } from 'vitest'

/** Where the tests find the shared NATS (never reconfigured: every test uses its own stream). */
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'

/** Whether a NATS with JetStream answers at `url` now (one short-lived connection). */
export async function answers(url: string): Promise<boolean> {
  let nc: NatsConnection | undefined
  try {
    nc = await connect({ servers: url, timeout: 1000, reconnect: false })
    await (await jetstreamManager(nc, { timeout: 1000 })).getAccountInfo()
    return true
  } catch {
    return false
  } finally {
    await nc?.close()
  }
}

/** Whether a NATS answered at NATS_URL when the test file loaded. */
export const natsAvailable = await answers(NATS_URL)
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false'

if (!natsAvailable && !inCi) {
  console.warn(
    `@sse/nats: no NATS with JetStream answered at NATS_URL=${NATS_URL}; skipping the NATS tests. ` +
      'Start one (nats-server -js) or set NATS_URL. Under CI=true they run and fail.',
  )
}

/** `describe` for suites that need NATS (and nats-server on PATH): skipped when none answers. */
export const describeNats: ReturnType<typeof describe.skipIf> = describe.skipIf(!natsAvailable)

/**
 * Under CI a missing NATS is a failure, reported at once rather than as
 * every test timing out; elsewhere the suites are skipped with a warning.
 */
export function testNatsAnswers(): void {
  test.runIf(inCi)('NATS with JetStream answers at NATS_URL (required under CI)', () => {
    expect(natsAvailable, `no NATS at NATS_URL=${NATS_URL}`).toBe(true)
  })
}

/** A stream name and subject prefix no other test run uses. */
export function uniqueStream(): { stream: string; subjectPrefix: string } {
  const id = randomUUID().replaceAll('-', '').slice(0, 16)
  return { stream: `SSE_TEST_${id}`, subjectPrefix: `sse-test.${id}` }
}

/** A connection for the test itself (inspecting and deleting streams). */
export async function admin(servers: string | string[] = NATS_URL): Promise<{
  nc: NatsConnection
  jsm: JetStreamManager
}> {
  const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 })
  return { nc, jsm: await jetstreamManager(nc) }
}

/** Engines and hubs of one test file on one stream; {@link useStream}. */
export interface StreamTarget {
  stream: string
  subjectPrefix: string
  servers: string | string[]
  /** Background errors of every engine made here. */
  errors: SseError[]
  /** An engine on this stream (closed by `stop`). */
  engine(options?: NatsEngineOptions): NatsEngine
  /** A hub on a fresh engine of this stream. */
  hub(options?: NatsEngineOptions, hubOptions?: HubOptions): Hub
  /** Closes every hub and engine and deletes the stream. */
  stop(): Promise<void>
}

export function streamTarget(servers: string | string[] = NATS_URL): StreamTarget {
  const names = uniqueStream()
  const hubs: Hub[] = []
  const engines: NatsEngine[] = []
  const errors: SseError[] = []
  const self: StreamTarget = {
    ...names,
    servers,
    errors,
    engine(options = {}) {
      const engine = createNatsEngine({
        servers,
        ...names,
        storage: 'memory',
        onError: (error) => errors.push(error),
        ...options,
      })
      engines.push(engine)
      return engine
    },
    hub(options, hubOptions) {
      const hub = createHub({ ...hubOptions, engine: self.engine(options) })
      hubs.push(hub)
      return hub
    },
    async stop() {
      for (const hub of hubs) hub.close()
      await Promise.all(engines.map((engine) => engine.close()))
      if (!natsAvailable && servers === NATS_URL) return
      const { nc, jsm } = await admin(servers)
      await jsm.streams.delete(names.stream).catch(() => undefined)
      await nc.close()
    },
  }
  return self
}

/** A stream target for the enclosing `describe`, stopped after its tests. */
export function useStream(servers?: string | string[]): StreamTarget {
  const target = streamTarget(servers)
  afterAll(() => target.stop(), 30_000)
  return target
}
