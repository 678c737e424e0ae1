import { readFileSync } from 'node:fs'
import http from 'node:http'
import { createHub, createParser } from '@sse/core'
import { openSession } from '@sse/node-http'
import { type ListeningServer, listen, until } from '@sse/test-utils'
import {
  proxyAvailable,
  type RunningProxy,
  startHaproxy,
  startNginx,
} from '@sse/test-utils/proxies'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

// The README's deployment settings, proven behind Debian's nginx and HAProxy
// (started here on 127.0.0.1 ports) with a real upstream and real clients.

const hub = createHub()
const lastEventIds: Array<string | undefined> = []
let upstream: ListeningServer
const proxies: RunningProxy[] = []

beforeAll(async () => {
  // GET /?heartbeat=<ms>: the news topic, with that heartbeat (default 15 s).
  upstream = await listen(
    http.createServer((req, res) => {
      const heartbeat = new URL(req.url ?? '/', 'http://x').searchParams.get('heartbeat')
      const session = openSession(req, res, {
        heartbeat: heartbeat === null ? 15_000 : Number(heartbeat),
        retry: 100,
      })
      if (session === undefined) return
      lastEventIds.push(session.lastEventId)
      hub.subscribe(session, 'news')
    }),
  )
})

afterAll(async () => {
  hub.close()
  for (const proxy of proxies) await proxy.stop()
  await upstream.close()
})

async function proxy(started: Promise<RunningProxy>): Promise<RunningProxy> {
  const running = await started
  proxies.push(running)
  return running
}

interface Watched {
  /** Each event's data, and when it arrived. */
  events: Array<{ data: string; at: number }>
  /** When the stream ended (the proxy cut it), if it did. */
  endedAt: number | undefined
  close(): void
}

function watch(url: string, lastEventId?: string): Watched {
  const controller = new AbortController()
  const watched: Watched = { events: [], endedAt: undefined, close: () => controller.abort() }
  const parser = createParser({
    onEvent: (event) => watched.events.push({ data: event.data, at: Date.now() }),
  })
  void fetch(url, {
    signal: controller.signal,
    headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
  })
    .then(async (response) => {
      const reader = response.body!.getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        parser.feed(value)
      }
    })
    .catch(() => undefined)
    .finally(() => {
      if (!controller.signal.aborted) watched.endedAt = Date.now()
    })
  return watched
}

/** Publishes `count` small events `gapMs` apart; returns how late each arrived, in ms. */
async function latencies(url: string, count = 12, gapMs = 60): Promise<number[]> {
  const before = hub.size
  const client = watch(url)
  await until(() => hub.size > before, 'subscribed')
  await new Promise((resolve) => setTimeout(resolve, 100))
  const late: number[] = []
  for (let i = 0; i < count; i++) {
    const sent = Date.now()
    await hub.publish('news', `${i}`)
    await until(() => client.events.length > i, `event ${i}`, 5000)
    late.push(client.events[i]!.at - sent)
    await new Promise((resolve) => setTimeout(resolve, gapMs))
  }
  // (HAProxy notices a client that left only when it next writes to it.)
  client.close()
  return late
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!

/** Opens a quiet stream and says whether the proxy cut it within `ms`, and after how long. */
async function quiet(url: string, ms: number): Promise<number | undefined> {
  const started = Date.now()
  const client = watch(url)
  await new Promise((resolve) => setTimeout(resolve, ms))
  client.close()
  return client.endedAt === undefined ? undefined : client.endedAt - started
}

/** The settings the root README's Deployment section gives, read from it: what users copy is what runs. */
function readmeBlock(lang: string): string[] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
  const block = new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'm').exec(readme)
  if (block === null) throw new Error(`the README has no ${lang} block`)
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line !== '')
}

// The location's directives but its braces and proxy_pass (the fixture's own).
const NGINX_LOCATION = readmeBlock('nginx')
  .filter((line) => !line.startsWith('location') && line !== '}' && !line.startsWith('proxy_pass'))
  .join('\n')

describe.skipIf(!proxyAvailable('nginx'))('behind nginx', () => {
  test('with the recommended location, each event arrives at once', async () => {
    const nginx = await proxy(startNginx(upstream.port, NGINX_LOCATION))
    const late = await latencies(nginx.url)
    console.log(
      `nginx, recommended: event latency median ${median(late)} ms, max ${Math.max(...late)} ms`,
    )
    expect(Math.max(...late)).toBeLessThan(100)
  })

  test("with nginx's own proxy_buffering on, the stream's X-Accel-Buffering: no still turns buffering off", async () => {
    const nginx = await proxy(
      startNginx(upstream.port, `proxy_http_version 1.1; proxy_set_header Connection '';`),
    )
    const late = await latencies(nginx.url)
    expect(Math.max(...late)).toBeLessThan(100)
  })

  test('proxy_read_timeout cuts a quiet stream whose heartbeat is slower; a heartbeat under it keeps it', async () => {
    const nginx = await proxy(
      startNginx(
        upstream.port,
        NGINX_LOCATION.replace('proxy_read_timeout 1h', 'proxy_read_timeout 2s'),
      ),
    )
    const cut = await quiet(`${nginx.url}/?heartbeat=15000`, 3000)
    expect(cut).toBeGreaterThanOrEqual(1800)
    expect(cut).toBeLessThan(3000)
    expect(await quiet(`${nginx.url}/?heartbeat=700`, 3000)).toBeUndefined()
  })

  test('Last-Event-ID reaches the upstream', async () => {
    const nginx = await proxy(startNginx(upstream.port, NGINX_LOCATION))
    const client = watch(nginx.url, '0:resume-from-here')
    await until(() => lastEventIds.includes('0:resume-from-here'), 'the id upstream')
    client.close()
  })
})

// The defaults section's settings but `defaults` and `mode http` (the fixture's own).
const HAPROXY_DEFAULTS = readmeBlock('haproxy')
  .filter((line) => line !== 'defaults' && line !== 'mode http')
  .join('\n')

describe.skipIf(!proxyAvailable('haproxy'))('behind HAProxy (mode http)', () => {
  test('with option http-no-delay each event arrives at once; without it, measured', async () => {
    const fast = await proxy(startHaproxy(upstream.port, HAPROXY_DEFAULTS))
    const withNoDelay = await latencies(fast.url)
    const plain = await proxy(
      startHaproxy(upstream.port, HAPROXY_DEFAULTS.replace('option http-no-delay', '')),
    )
    const without = await latencies(plain.url)
    console.log(
      `HAProxy: event latency with http-no-delay median ${median(withNoDelay)} ms, max ${Math.max(...withNoDelay)} ms; ` +
        `without median ${median(without)} ms, max ${Math.max(...without)} ms`,
    )
    expect(Math.max(...withNoDelay)).toBeLessThan(100)
    // The reason for the setting: without it each small event waits for the
    // client's delayed ACK (measured here: ~210 ms every time).
    expect(median(without)).toBeGreaterThan(100)
  })

  test('timeout server cuts a quiet stream whose heartbeat is slower; a heartbeat under it keeps it', async () => {
    const haproxy = await proxy(
      startHaproxy(
        upstream.port,
        HAPROXY_DEFAULTS.replace('timeout server 1h', 'timeout server 2s'),
      ),
    )
    const cut = await quiet(`${haproxy.url}/?heartbeat=15000`, 3000)
    expect(cut).toBeGreaterThanOrEqual(1800)
    expect(cut).toBeLessThan(3000)
    expect(await quiet(`${haproxy.url}/?heartbeat=700`, 3000)).toBeUndefined()
  })

  test('Last-Event-ID reaches the upstream', async () => {
    const haproxy = await proxy(startHaproxy(upstream.port, HAPROXY_DEFAULTS))
    const client = watch(haproxy.url, '0:through-haproxy')
    await until(() => lastEventIds.includes('0:through-haproxy'), 'the id upstream')
    client.close()
  })
})
