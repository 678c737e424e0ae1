import http, { type IncomingMessage, ServerResponse } from 'node:http'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { createHub, encode, type Hub, type Session } from '@sse/core'
import { openSession } from '@sse/node-http'
import { type ListeningServer, listen } from '@sse/test-utils'
import { afterEach, expect, test } from 'vitest'

// The HTTP/1.1 fast path writes chunk-framed bytes straight to the socket,
// relying on ServerResponse internals. These tests read the wire with Node's
// own HTTP client, whose parser rejects any broken chunk framing
// (HPE_INVALID_CHUNK_SIZE), and compare the body byte for byte, so no parser
// of ours is involved.

const servers: ListeningServer[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close()
})

/** A ServerResponse whose `write` is wrapped, as middleware does: no fast path. */
class WrappedResponse extends ServerResponse {
  static writes = 0
  constructor(req: IncomingMessage) {
    super(req)
    const write = this.write as (...args: unknown[]) => boolean
    this.write = ((...args: unknown[]) => {
      WrappedResponse.writes++
      return write.apply(this, args)
    }) as ServerResponse['write']
  }
}

async function serve(
  onSession: (session: Session) => void,
  options: { wrapped?: boolean; unchunked?: boolean } = {},
): Promise<string> {
  const server = http.createServer(
    { ServerResponse: options.wrapped ? WrappedResponse : ServerResponse },
    // A bound far above the test's 10 MB: this is about framing, not the slow-client policy.
    (req, res) => {
      // The internals the fast path relies on, behaving differently: no
      // chunked encoding, the body runs until the connection closes.
      if (options.unchunked) res.useChunkedEncodingByDefault = false
      onSession(
        openSession(req, res, { heartbeat: false, retry: 1000, maxQueueBytes: 64 * 1024 * 1024 })!,
      )
    },
  )
  const running = await listen(server)
  servers.push(running)
  return `${running.url}/`
}

/** The whole body through node's HTTP parser; a framing error rejects. */
function readBody(url: string, pauseMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const chunks: Buffer[] = []
        // Not reading at first: the socket fills, the server queues (backpressure).
        if (pauseMs > 0) {
          res.pause()
          setTimeout(() => res.resume(), pauseMs)
        }
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
        res.on('error', reject)
      })
      .on('error', reject)
  })
}

/** A hub with one client connected through the path under test, reading the wire. */
async function oneClient(wrapped: boolean, pauseMs = 0) {
  const hub = createHub()
  const url = await serve((session) => void hub.subscribe(session, 'ticks'), { wrapped })
  const body = readBody(url, pauseMs)
  while (hub.size === 0) await nextTurn()
  const subscription = hub.subscriptions().next().value!
  await subscription.ready
  const session: Session = subscription.session
  const start = await hub.engine.follow(0, { event: () => undefined, reset: () => undefined }).ready
  const epoch = start.slice(0, start.indexOf('-'))
  // The frame the hub writes for the i-th publish: its id, then the event.
  const frameOf = (i: number, payload: string): string =>
    `id: 0:${epoch}-${i + 1}\n${encode({ data: `${i}:${payload}`, event: 'tick' })}`
  const expected = encode({ retry: 1000 }) + encode({ id: `0:${start}` })
  return { hub, session, body, expected, frameOf }
}

function publishTick(hub: Hub, i: number, payload: string): Promise<void> {
  return hub.publish('ticks', `${i}:${payload}`, { event: 'tick' })
}

for (const wrapped of [false, true]) {
  const path = wrapped ? 'res.write fallback (a wrapped response)' : 'raw-socket fast path'
  test(`${path}: 5,000 broadcast frames under backpressure arrive as valid chunked framing, byte for byte`, async () => {
    const writesBefore = WrappedResponse.writes
    let { hub, session, body, expected, frameOf } = await oneClient(wrapped, 200)
    const payload = 'x'.repeat(2000)
    for (let i = 0; i < 5000; i++) {
      await publishTick(hub, i, payload)
      expected += frameOf(i, payload)
      if (i % 50 === 0) await nextTurn()
    }
    // Queued behind a full socket, not dropped.
    expect(session.closed).toBe(false)
    session.close()
    expect(await body).toBe(expected)
    const writes = WrappedResponse.writes - writesBefore
    // The fallback writes every frame through res.write (5,000 events, the
    // retry hint, the starting id); the fast path none.
    expect(writes).toBe(wrapped ? 5002 : 0)
    hub.close()
  }, 60_000)

  test(`${path}: res.end() racing a broadcast ends the stream cleanly after whole frames`, async () => {
    let { hub, session, body, expected, frameOf } = await oneClient(wrapped)
    const payload = 'y'.repeat(500)
    for (let i = 0; i < 200; i++) {
      // Frames still queued in the socket when the end is written.
      void publishTick(hub, i, payload)
      expected += frameOf(i, payload)
      if (i === 150) session.close()
    }
    // Everything written before close() arrives, then a clean end: no later
    // frame, no torn frame, no framing error.
    expect(await body).toBe(expected.slice(0, expected.indexOf(frameOf(151, payload))))
    hub.close()
  })
}

test('forced fallback: a response that is not chunked (useChunkedEncodingByDefault off) never takes the raw-socket path; its bytes arrive unframed and whole', async () => {
  const hub = createHub()
  const url = await serve((session) => void hub.subscribe(session, 'ticks'), { unchunked: true })
  const body = readBody(url, 100)
  while (hub.size === 0) await nextTurn()
  const subscription = hub.subscriptions().next().value!
  await subscription.ready
  const start = await hub.engine.follow(0, { event: () => undefined, reset: () => undefined }).ready
  const epoch = start.slice(0, start.indexOf('-'))
  let expected = encode({ retry: 1000 }) + encode({ id: `0:${start}` })
  const payload = 'z'.repeat(1000)
  for (let i = 0; i < 1000; i++) {
    await publishTick(hub, i, payload)
    expected += `id: 0:${epoch}-${i + 1}\n${encode({ data: `${i}:${payload}`, event: 'tick' })}`
    if (i % 50 === 0) await nextTurn()
  }
  subscription.session.close()
  // Had the fast path framed these as chunks, chunk sizes would be in the body.
  expect(await body).toBe(expected)
  hub.close()
}, 60_000)
