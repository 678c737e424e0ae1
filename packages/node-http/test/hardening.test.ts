import http from 'node:http'
import net from 'node:net'
import v8 from 'node:v8'
import vm from 'node:vm'
import { createHub, createMemoryEngine, type Engine, type Session } from '@sse/core'
import { sse } from '@sse/node-http'
import { type ListeningServer, listen, settle, trackTimers } from '@sse/test-utils'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

// An engine that records every position it is asked to read from: nothing
// unvalidated may reach it.
const seenByEngine: string[] = []
const inner = createMemoryEngine()
const spyEngine: Engine = {
  ...inner,
  read(shard, position) {
    seenByEngine.push(position)
    return inner.read(shard, position)
  },
}
const hub = createHub({ engine: spyEngine })
// A real id, so the fuzz also tries near-misses of one.
let realId = ''
const handlerErrors: unknown[] = []
const open = new Set<Session>()
let server: ListeningServer
let port: number

beforeAll(async () => {
  const http1 = http.createServer(
    sse(
      async (session) => {
        open.add(session)
        session.signal.addEventListener('abort', () => open.delete(session))
        await hub.subscribe(session, 'news').ready
        session.comment('joined')
      },
      { onError: (error) => handlerErrors.push(error) },
    ),
  )
  server = await listen(http1)
  port = server.port
  await hub.publish('news', 'history')
  realId = `0:${await inner.follow(0, { event: () => undefined, reset: () => undefined }).ready}`
})

afterAll(async () => {
  for (const session of open) session.close()
  await server.close()
})

/** Sends raw request bytes and returns the status line (or '' if the server hung up). */
function rawRequest(head: Uint8Array): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let received = ''
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1')
      if (received.includes('\r\n')) {
        socket.destroy()
        resolve(received.slice(0, received.indexOf('\r\n')))
      }
    })
    socket.on('close', () => resolve(received.split('\r\n')[0] ?? ''))
    socket.on('error', reject)
    socket.write(head)
  })
}

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff)

describe('fuzzed Last-Event-ID', () => {
  test('header bytes of any kind: never a crash, never a throw, never an unvalidated id at the store', async () => {
    const headerValue = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map((b) => String.fromCharCode(...b)),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('x'.repeat(5000), '\u00ff\u00fe', 'a\u0000b', '1-1', '%00', '\t1', realId),
      fc.string({ maxLength: 8 }).map((tail) => realId + tail),
      fc.nat(realId.length).map((n) => realId.slice(0, n)),
      fc.constantFrom(
        realId.replace('0:', '1:'),
        `${realId},${realId}`,
        realId.replace(/\d+$/, '99'),
      ),
    )
    await fc.assert(
      fc.asyncProperty(headerValue, async (value) => {
        const head = latin1(
          `GET / HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ${value.replace(/[\r\n]/g, '')}\r\n\r\n`,
        )
        const status = await rawRequest(head)
        // Either our stream opened, or Node's parser refused the header (400).
        expect(status === 'HTTP/1.1 200 OK' || status.startsWith('HTTP/1.1 400')).toBe(true)
      }),
      { numRuns: 150 },
    )
  })

  test('query strings: oversized, control characters, invalid percent-encoding and UTF-8', async () => {
    const query = fc.oneof(
      fc.string({ maxLength: 60 }).map(encodeURIComponent),
      fc.constantFrom('%00', '%0A%0D', '%FF%FE', '%ZZ', '%', '%E2%82', 'a'.repeat(3000), '%7F'),
      fc
        .uint8Array({ maxLength: 20 })
        .map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')),
    )
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const status = await rawRequest(
          latin1(`GET /?lastEventId=${q} HTTP/1.1\r\nHost: x\r\n\r\n`),
        )
        expect(status).toBe('HTTP/1.1 200 OK')
      }),
      { numRuns: 150 },
    )
  })

  test('afterwards: no handler threw, every id the store saw was validated, the server still serves', async () => {
    expect(handlerErrors).toEqual([])
    expect(seenByEngine.length).toBeGreaterThan(0)
    expect(seenByEngine.filter((position) => !inner.isPosition(position))).toEqual([])
    expect(await rawRequest(latin1('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe('HTTP/1.1 200 OK')
  })
})

test('10,000 connect/disconnect cycles: heap, timers, handles and hub size return to baseline', async () => {
  await settle(() => open.size === 0 && hub.size === 0)
  gc()
  const heapBefore = process.memoryUsage().heapUsed
  const handlesBefore = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').length
  const timers = trackTimers()

  // 8 clients at a time, 1,250 cycles each: the churn of a busy server, and a
  // run that a loaded CI machine does not stretch by 10,000 round-trip waits.
  const cycle = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.get({ port, host: '127.0.0.1', path: '/', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy()
          resolve()
        })
      })
      req.on('error', reject)
    })
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 1_250; i++) await cycle()
    }),
  )
  await settle(() => open.size === 0 && hub.size === 0 && timers.live === 0, 5000)
  timers.stop()
  expect(open.size).toBe(0)
  expect(hub.size).toBe(0)
  expect(timers.live).toBe(0)
  await settle(
    () => process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').length <= handlesBefore,
  )
  expect(
    process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').length,
  ).toBeLessThanOrEqual(handlesBefore)
  gc()
  const grown = process.memoryUsage().heapUsed - heapBefore
  // A leaked session costs ~2 KB: 10,000 of them would be ~20 MB.
  expect(grown).toBeLessThan(4 * 1024 * 1024)
  // ~15-20 s on an idle 2-core machine; CI runs every package's tests at once.
}, 240_000)
