import { readFileSync } from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import net from 'node:net'
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import { createParser, type Session } from '@sse/core'
import { sse } from '@sse/node-http'
import {
  type ListeningServer,
  listen,
  proxyAvailable,
  type RunningProxy,
  startHaproxy,
  startNginx,
  until,
} from '@sse/test-utils'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

// The root README's Deployment settings, proven behind Debian's nginx and
// HAProxy (each started here on a 127.0.0.1 port) with the real adapter
// upstream and fetch as the client. The settings are read from the README:
// what users copy is what runs.

type Route = (req: IncomingMessage, res: ServerResponse) => void

/** Every session the upstream opened on `/events*`, oldest first. */
const sessions: Session[] = []
/** The Last-Event-ID each `/resume` request arrived with. */
const resumedFrom: Array<string | undefined> = []
const FIREHOSE_CAP = 64 * 1024 * 1024
/** The latest `/firehose` session, and the bytes it handed to its transport. */
let firehose: { session: Session; written: number } | undefined

const keep = (session: Session): void => {
  sessions.push(session)
}

const routes: Record<string, Route> = {
  // The library's defaults: a 15 s heartbeat.
  '/events': sse(keep),
  '/events-heartbeat-2s': sse(keep, { heartbeat: 2000 }),
  // One event with the id from `?id=`, then the end: the client reconnects.
  '/resume': sse<IncomingMessage, ServerResponse>(
    (session, { req }) => {
      resumedFrom.push(session.lastEventId)
      const id = new URL(req.url ?? '/', 'http://upstream').searchParams.get('id') ?? 'none'
      session.send(`after ${session.lastEventId ?? 'nothing'}`, { id })
      session.close()
    },
    { heartbeat: false, retry: false },
  ),
  // 16 kB events for as long as the transport takes them (nothing queued in
  // the session), up to FIREHOSE_CAP: how much a proxy absorbs for a client
  // that reads nothing.
  '/firehose': sse(
    async (session) => {
      const run = { session, written: 0 }
      firehose = run
      const data = 'x'.repeat(16 * 1024)
      while (!session.closed && run.written < FIREHOSE_CAP) {
        if (session.queuedBytes > 0) {
          await sleep(5)
          continue
        }
        session.send(data)
        run.written += data.length
        await nextTurn()
      }
    },
    { heartbeat: false },
  ),
}

let upstream: ListeningServer
const proxies: RunningProxy[] = []

beforeAll(async () => {
  upstream = await listen(
    http.createServer((req, res) => {
      const route = routes[new URL(req.url ?? '/', 'http://upstream').pathname]
      if (route) route(req, res)
      else res.writeHead(404).end()
    }),
  )
})

afterAll(async () => {
  for (const session of sessions) session.close()
  firehose?.session.close()
  await Promise.all(proxies.map((proxy) => proxy.stop()))
  await upstream?.close()
})

async function started(proxy: Promise<RunningProxy>): Promise<RunningProxy> {
  const running = await proxy
  proxies.push(running)
  return running
}

interface Watched {
  /** Set when the response head arrived. */
  status: number | undefined
  /** Each event, and when it arrived (performance.now()). */
  events: Array<{ data: string; id: string; at: number }>
  /** Heartbeat comments seen. */
  comments: number
  /** Milliseconds from the request until the stream ended or failed (not by close()). */
  endedAfter: number | undefined
  close(): void
}

/** A fetch client reading an event stream through the core parser. */
function watch(url: string, lastEventId?: string): Watched {
  const controller = new AbortController()
  const started = performance.now()
  const watched: Watched = {
    status: undefined,
    events: [],
    comments: 0,
    endedAfter: undefined,
    close: () => controller.abort(),
  }
  const parser = createParser({
    onEvent: (event) =>
      watched.events.push({ data: event.data, id: event.lastEventId, at: performance.now() }),
    onComment: () => {
      watched.comments++
    },
  })
  void fetch(url, {
    signal: controller.signal,
    headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
  })
    .then(async (response) => {
      watched.status = response.status
      const reader = response.body!.getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        parser.feed(value)
      }
    })
    // A proxy cutting the stream rejects the read ("terminated"): an end too.
    .catch(() => undefined)
    .finally(() => {
      if (!controller.signal.aborted) watched.endedAfter = performance.now() - started
    })
  return watched
}

/**
 * Opens `/events` through `base` and sends `count` isolated small events
 * `gapMs` apart, each after the previous one arrived; resolves each one's
 * delay from `session.send` to the client's parser, in ms.
 */
async function latencies(base: string, count = 10, gapMs = 50): Promise<number[]> {
  const opened = sessions.length
  const client = watch(`${base}/events`)
  await until(() => sessions.length > opened && client.status !== undefined, 'the stream open')
  const session = sessions[opened]!
  const delays: number[] = []
  for (let i = 0; i < count; i++) {
    const sent = performance.now()
    session.send(`${i}`)
    await until(() => client.events.length > i, `event ${i} through the proxy`, 5000)
    delays.push(client.events[i]!.at - sent)
    await sleep(gapMs)
  }
  client.close()
  session.close()
  return delays
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!
const summary = (values: number[]): string =>
  `median ${median(values).toFixed(1)} ms, min ${Math.min(...values).toFixed(1)}, max ${Math.max(...values).toFixed(1)}`

/** Follows one `/resume` stream to its end, then reconnects with the Last-Event-ID it saw. */
async function resumeThrough(base: string, id: string): Promise<void> {
  const first = watch(`${base}/resume?id=${encodeURIComponent(id)}`)
  await until(() => first.endedAfter !== undefined, 'the first stream to end')
  const lastEventId = first.events.at(-1)?.id
  expect(lastEventId).toBe(id)
  const before = resumedFrom.length
  const second = watch(`${base}/resume?id=next`, lastEventId)
  await until(() => second.endedAfter !== undefined, 'the reconnected stream to end')
  expect(resumedFrom.slice(before)).toEqual([id])
  expect(second.events.map((event) => event.data)).toEqual([`after ${id}`])
}

/** A raw HTTP/1.1 client that sends its request and then reads nothing. */
function stalledClient(port: number, path: string): net.Socket {
  const socket = net.connect(port, '127.0.0.1', () => {
    socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`)
  })
  socket.pause()
  socket.on('error', () => undefined)
  return socket
}

/** The lines of the README's first ```<lang> block, comments and blank lines removed. */
function readmeBlock(lang: string): string[] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
  const block = new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'm').exec(readme)
  if (block === null) throw new Error(`the root README has no \`\`\`${lang} block`)
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line !== '')
}

/** `lines` without the settings named `keys` (`proxy_buffering`, `timeout server`). */
function without(lines: readonly string[], ...keys: string[]): string[] {
  const named = (line: string, key: string): boolean =>
    line === key || line.startsWith(`${key} `) || line.startsWith(`${key};`)
  return lines.filter((line) => !keys.some((key) => named(line, key)))
}

// The README's `location` block but its braces and proxy_pass (the fixture's own).
const NGINX = readmeBlock('nginx').filter(
  (line) => !line.startsWith('location') && line !== '}' && !line.startsWith('proxy_pass'),
)
const nginxWith = (lines: readonly string[]) => ({ extraConfig: lines.join('\n') })

// The README's `defaults` section but `defaults` and `mode http` (the fixture's own).
const HAPROXY = readmeBlock('haproxy').filter((line) => line !== 'defaults' && line !== 'mode http')
const haproxyWith = (lines: readonly string[]) => ({
  extraConfig: without(lines, 'option http-no-delay').join('\n'),
  noDelay: lines.includes('option http-no-delay'),
})

describe.skipIf(!proxyAvailable('nginx'))('behind nginx', () => {
  test('with the recommended location, each event arrives at once', async () => {
    const nginx = await started(startNginx(upstream.port, nginxWith(NGINX)))
    const delays = await latencies(nginx.url)
    console.log(`nginx, recommended location: per-event delay ${summary(delays)}`)
    // The median, not the max: one late event is this process's loop stalled
    // on a loaded machine; a buffering proxy holds them all back.
    expect(median(delays)).toBeLessThan(50)
  })

  test("without proxy_buffering off, the stream's X-Accel-Buffering: no keeps nginx unbuffered: events arrive at once and a client that reads nothing holds the app back", async () => {
    expect(NGINX.some((line) => line.startsWith('proxy_buffering'))).toBe(true)
    const nginx = await started(
      startNginx(upstream.port, nginxWith(without(NGINX, 'proxy_buffering'))),
    )
    const delays = await latencies(nginx.url)
    console.log(`nginx, proxy_buffering on (its default): per-event delay ${summary(delays)}`)
    // The median, not the max: one late event is this process's loop stalled
    // on a loaded machine; a buffering proxy holds them all back.
    expect(median(delays)).toBeLessThan(50)

    // Unbuffered, nginx holds about one proxy buffer: what the app can write
    // is what the sockets buffer (a few MB on loopback), then its session
    // queues, and a second later it has still written no more than that.
    const client = stalledClient(nginx.port, '/firehose')
    await until(() => (firehose?.session.queuedBytes ?? 0) > 0, 'the app to be held back')
    await sleep(1000)
    const { written } = firehose!
    client.destroy()
    console.log(
      `nginx, proxy_buffering on + X-Accel-Buffering: no: ${(written / 2 ** 20).toFixed(1)} MiB written for a client reading nothing`,
    )
    expect(written).toBeLessThan(FIREHOSE_CAP / 2)
  })

  test('the header is what does it: with X-Accel-Buffering ignored, nginx buffers 64 MiB for a client that reads nothing', async () => {
    const nginx = await started(
      startNginx(
        upstream.port,
        nginxWith([
          ...without(NGINX, 'proxy_buffering'),
          'proxy_ignore_headers X-Accel-Buffering;',
        ]),
      ),
    )
    const before = firehose
    const client = stalledClient(nginx.port, '/firehose')
    await until(
      () => firehose !== before && firehose!.written >= FIREHOSE_CAP,
      'nginx to take 64 MiB',
      10_000,
    )
    client.destroy()
  })

  test('proxy_read_timeout cuts a stream quieter than it; a heartbeat under it keeps the stream', async () => {
    const nginx = await started(
      startNginx(
        upstream.port,
        nginxWith([...without(NGINX, 'proxy_read_timeout'), 'proxy_read_timeout 5s;']),
      ),
    )
    const defaultHeartbeat = watch(`${nginx.url}/events`)
    const fastHeartbeat = watch(`${nginx.url}/events-heartbeat-2s`)
    await until(() => defaultHeartbeat.endedAfter !== undefined, 'nginx to cut the stream', 7500)
    await until(() => fastHeartbeat.comments >= 4, 'four heartbeats (8 s)', 9000)
    console.log(
      `nginx, proxy_read_timeout 5s: the 15 s-heartbeat stream was cut after ${defaultHeartbeat.endedAfter!.toFixed(0)} ms; ` +
        `the 2 s-heartbeat stream was open after ${fastHeartbeat.comments} heartbeats`,
    )
    expect(defaultHeartbeat.endedAfter).toBeGreaterThanOrEqual(4900)
    expect(defaultHeartbeat.comments).toBe(0)
    expect(fastHeartbeat.endedAfter).toBeUndefined()
    fastHeartbeat.close()
  })

  test('Last-Event-ID reaches the upstream on reconnect', async () => {
    const nginx = await started(startNginx(upstream.port, nginxWith(NGINX)))
    await resumeThrough(nginx.url, 'nginx-42')
  })
})

describe.skipIf(!proxyAvailable('haproxy'))('behind HAProxy (mode http)', () => {
  test('with option http-no-delay each event arrives at once', async () => {
    expect(HAPROXY).toContain('option http-no-delay')
    const haproxy = await started(startHaproxy(upstream.port, haproxyWith(HAPROXY)))
    const delays = await latencies(haproxy.url)
    console.log(`HAProxy, http-no-delay: per-event delay ${summary(delays)}`)
    // The median (see above); without the option it is ~200 ms (next test).
    expect(median(delays)).toBeLessThan(50)
  })

  test('without option http-no-delay every small event is held ~200 ms', async () => {
    const haproxy = await started(
      startHaproxy(upstream.port, haproxyWith(without(HAPROXY, 'option http-no-delay'))),
    )
    const delays = await latencies(haproxy.url)
    console.log(`HAProxy, no http-no-delay: per-event delay ${summary(delays)}`)
    // HAProxy sends each chunk with MSG_MORE (its sockets have TCP_NODELAY:
    // this is not Nagle), and Linux holds such a partial segment ~200 ms.
    expect(median(delays)).toBeGreaterThan(150)
  })

  test('timeout server cuts a stream quieter than it (timeout tunnel does not apply); a heartbeat under it keeps the stream', async () => {
    const timeouts = [
      ...without(HAPROXY, 'timeout client', 'timeout server', 'timeout tunnel'),
      'timeout client 5s',
      'timeout server 5s',
    ]
    const plain = await started(startHaproxy(upstream.port, haproxyWith(timeouts)))
    const tunnel = await started(
      startHaproxy(upstream.port, haproxyWith([...timeouts, 'timeout tunnel 1h'])),
    )
    const defaultHeartbeat = watch(`${plain.url}/events`)
    const withTunnelTimeout = watch(`${tunnel.url}/events`)
    const fastHeartbeat = watch(`${plain.url}/events-heartbeat-2s`)
    await until(() => defaultHeartbeat.endedAfter !== undefined, 'HAProxy to cut the stream', 7500)
    await until(
      () => withTunnelTimeout.endedAfter !== undefined,
      'HAProxy with timeout tunnel 1h to cut the stream',
      7500,
    )
    await until(() => fastHeartbeat.comments >= 4, 'four heartbeats (8 s)', 9000)
    console.log(
      `HAProxy, timeout client/server 5s: the 15 s-heartbeat stream was cut after ${defaultHeartbeat.endedAfter!.toFixed(0)} ms ` +
        `(${withTunnelTimeout.endedAfter!.toFixed(0)} ms with timeout tunnel 1h); ` +
        `the 2 s-heartbeat stream was open after ${fastHeartbeat.comments} heartbeats`,
    )
    for (const cut of [defaultHeartbeat, withTunnelTimeout]) {
      expect(cut.endedAfter).toBeGreaterThanOrEqual(4900)
      expect(cut.comments).toBe(0)
    }
    expect(fastHeartbeat.endedAfter).toBeUndefined()
    fastHeartbeat.close()
  })

  test('Last-Event-ID reaches the upstream on reconnect', async () => {
    const haproxy = await started(startHaproxy(upstream.port, haproxyWith(HAPROXY)))
    await resumeThrough(haproxy.url, 'haproxy-42')
  })
})
