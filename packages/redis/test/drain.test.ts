import http from 'node:http'
import { createParser } from '@sse/core'
import { afterAll, expect, test } from 'vitest'
import { describeRedis, uniquePrefix, until } from './helpers'
import { eventsUrl, type ServerProcess, startServer } from './processes'

// A deploy, for real: two server processes on one Redis, 1,000 clients on
// the first. It drains over 5 s while the second serves; each client does
// what EventSource does (waits the `retry:` hint, reconnects with its
// Last-Event-ID, here to the other process, as a load balancer would send it).

const CLIENTS = 1000
const WINDOW = 5000
const TOPIC = 'deploy'

interface Client {
  received: number[]
  resyncs: number
  live: boolean
  /**
   * When it reconnects: when its stream ended plus the `retry:` hint it was
   * sent. (Its timer may fire later: 1,000 clients share this process's event
   * loop, which a loaded CI machine stalls for hundreds of ms, bunching their
   * timers as 1,000 separate browsers never would.)
   */
  movedAt: number | undefined
  liveOnSecond: boolean
  errors: number
}

const servers: ServerProcess[] = []
afterAll(async () => {
  for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGKILL')
  await Promise.all(servers.map((server) => server.exited))
})

function follow(client: Client, first: string, second: string): void {
  const connect = (url: string, lastEventId: string | undefined, onSecond: boolean): void => {
    let retry = 0
    const parser = createParser({
      onEvent(event) {
        if (event.type === 'ready') {
          if (onSecond) client.liveOnSecond = true
          else client.live = true
        } else if (event.type === 'resync') client.resyncs++
        else client.received.push(Number(event.data))
      },
      onRetry: (ms) => {
        retry = ms
      },
    })
    const headers: Record<string, string> =
      lastEventId === undefined ? {} : { 'last-event-id': lastEventId }
    const request = http.get(url, { agent: false, headers }, (response) => {
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => parser.feed(chunk))
      response.on('end', () => {
        if (onSecond) return
        client.movedAt = Date.now() + retry
        setTimeout(() => connect(second, parser.lastEventId, true), retry)
      })
    })
    request.on('error', () => client.errors++)
  }
  connect(first, undefined, false)
}

function message(server: ServerProcess, type: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} in ${timeoutMs} ms`)), timeoutMs)
    server.child.on('message', (m: { type?: string }) => {
      if (m.type !== type) return
      clearTimeout(timer)
      resolve()
    })
  })
}

describeRedis('drain across processes', () => {
  test('1,000 clients drained over 5 s reconnect evenly to the other process, resume, and lose nothing', async () => {
    const env = { PREFIX: uniquePrefix() }
    const [draining, staying] = await Promise.all([startServer(env), startServer(env)])
    servers.push(draining!, staying!)
    const clients: Client[] = Array.from({ length: CLIENTS }, () => ({
      received: [],
      resyncs: 0,
      live: false,
      movedAt: undefined,
      liveOnSecond: false,
      errors: 0,
    }))
    for (const client of clients) {
      follow(client, eventsUrl(draining!.url, [TOPIC]), eventsUrl(staying!.url, [TOPIC]))
    }
    await until(
      () => clients.every((c) => c.live),
      'every client live on the first process',
      30_000,
    )

    // Events all along, published in the process that stays.
    let published = 0
    let publishing = true
    const publisher = (async () => {
      while (publishing) {
        const [ok] = await staying!.publish([{ topics: [TOPIC], data: String(published) }])
        expect(ok).toBe(true)
        published++
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    })()

    await new Promise((resolve) => setTimeout(resolve, 300))
    const drained = message(draining!, 'drained', WINDOW + 10_000)
    const serverClosed = message(draining!, 'server-closed', WINDOW + 15_000)
    const started = Date.now()
    draining!.send({ type: 'drain', window: WINDOW, retry: 1000 })
    await drained
    const drainedAfter = Date.now() - started
    // Once drained, server.close() completes: nothing holds it open.
    await serverClosed
    await until(
      () => clients.every((c) => c.liveOnSecond),
      'every client live on the second process',
      15_000,
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    publishing = false
    await publisher
    const last = published - 1
    await until(
      () => clients.every((c) => c.received.at(-1) === last),
      'every event everywhere',
      15_000,
    )

    // Reconnects per 100 ms: an even spread is CLIENTS / (WINDOW / 100) = 20.
    const buckets = new Map<number, number>()
    for (const client of clients) {
      const bucket = Math.floor((client.movedAt! - started) / 100)
      buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1)
    }
    const even = CLIENTS / (WINDOW / 100)
    const peak = Math.max(...buckets.values())
    console.log(
      `drain: ${CLIENTS} streams closed over ${drainedAfter} ms; reconnects per 100 ms peak ${peak} ` +
        `(even ${even}), spread over ${buckets.size} buckets; ${published} events`,
    )
    expect(drainedAfter).toBeGreaterThanOrEqual(WINDOW * 0.9)
    expect(peak).toBeLessThan(2 * even)
    // Nothing lost, nothing twice, nothing out of order, no resync, no error.
    const all = Array.from({ length: published }, (_, i) => i)
    for (const client of clients) expect(client.received).toEqual(all)
    expect(clients.reduce((n, c) => n + c.resyncs + c.errors, 0)).toBe(0)
  }, 90_000)
})
