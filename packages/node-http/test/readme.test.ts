import { once } from 'node:events'
import http2 from 'node:http2'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { type Hub, readEvents } from '@sse/core'
import { tls } from '@sse/test-utils'
import { exampleUrl, readmeExamples, runAsCommonJs } from '@sse/test-utils/docs'
import { expectGracefulShutdown } from '@sse/test-utils/shutdown'
import { afterAll, expect, test } from 'vitest'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const examples = readmeExamples(packageDir)
const example = (file: string) => examples.find((e) => e.file === file)!
const fixtures = fileURLToPath(new URL('../../test-utils/fixtures/', import.meta.url))
process.env.PORT = '0'
process.env.TLS_KEY = `${fixtures}key.pem`
process.env.TLS_CERT = `${fixtures}cert.pem`
const closers: Array<() => void> = []
afterAll(() => {
  for (const close of closers) close()
})

type Listening = { listening: boolean; address(): unknown; close(): unknown }
async function portOf(server: Listening & NodeJS.EventEmitter): Promise<number> {
  if (!server.listening) await once(server, 'listening')
  return (server.address() as AddressInfo).port
}

test('every README code block is an example file; the install line names what they import', () => {
  expect(examples.map((e) => e.file)).toEqual([
    'examples/clock.ts',
    'examples/http2.ts',
    'examples/open-session.ts',
    'examples/shutdown.ts',
  ])
})

test('examples/clock.ts (ESM): each room gets its own events; a bad room is closed', async () => {
  const { hub, server } = (await import('../examples/clock')) as {
    hub: Hub
    server: import('node:http').Server
  }
  const url = await exampleUrl(server)
  const lobby = readEvents(`${url}/`, { count: 1 })
  const kitchen = readEvents(`${url}/?room=kitchen`, { count: 1 })
  await expect.poll(() => hub.size).toBe(2)
  await hub.publish('rooms/kitchen', 'soup')
  await hub.publish('rooms/lobby', 'hello')
  expect((await lobby).map((e) => e.data)).toEqual(['hello'])
  expect((await kitchen).map((e) => e.data)).toEqual(['soup'])
  expect(await readEvents(`${url}/?room=../x`)).toEqual([])
})

test('examples/clock.ts (CommonJS, the built package): the same through require', async () => {
  const seen = await runAsCommonJs(packageDir, example('examples/clock.ts'), async (clock, req) => {
    const { once } = req('node:events')
    const { readEvents } = req('@sse/core')
    if (!clock.server.listening) await once(clock.server, 'listening')
    const url = `http://127.0.0.1:${clock.server.address().port}/?room=hall`
    const pending = readEvents(url, { count: 1 })
    while (clock.hub.size === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    await clock.hub.publish('rooms/hall', 'in the hall')
    return (await pending).map((event: { data: string }) => event.data)
  })
  expect(seen).toEqual(['in the hall'])
})

/** One event over a real HTTP/2 TLS connection, read with node:http2's client. */
function overHttp2(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`https://127.0.0.1:${port}`, { ca: tls.cert })
    client.on('error', reject)
    const stream = client.request({ ':path': '/' })
    let status = 0
    let body = ''
    stream.on('response', (headers) => {
      status = Number(headers[':status'])
    })
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk
      if (body.includes('\n\n') && body.includes('data:')) {
        client.close()
        stream.close()
        resolve({ status, body })
      }
    })
  })
}

test('examples/http2.ts (ESM): an HTTP/2 client over TLS, and an HTTP/1.1 one on the same port', async () => {
  const { server } = await import('../examples/http2')
  closers.push(() => server.close())
  const port = await portOf(server)
  const h2 = await overHttp2(port)
  expect(h2.status).toBe(200)
  expect(h2.body).toContain('data: {"protocol":"2.0"}')
  const h1 = await new Promise<string>((resolve, reject) => {
    https
      .get(`https://127.0.0.1:${port}/`, { ca: tls.cert, agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk
          if (body.includes('data:') && body.endsWith('\n\n')) {
            res.destroy()
            resolve(body)
          }
        })
      })
      .on('error', reject)
  })
  expect(h1).toContain('data: {"protocol":"1.1"}')
})

test('examples/http2.ts (CommonJS): loads with require and answers HTTP/2', async () => {
  const status = await runAsCommonJs(packageDir, example('examples/http2.ts'), async (ex, req) => {
    const http2 = req('node:http2')
    const { readFileSync } = req('node:fs')
    const { once } = req('node:events')
    if (!ex.server.listening) await once(ex.server, 'listening')
    const client = http2.connect(`https://127.0.0.1:${ex.server.address().port}`, {
      ca: readFileSync(process.env.TLS_CERT),
    })
    const stream = client.request({ ':path': '/' })
    const [headers] = await once(stream, 'response')
    let body = ''
    while (!body.includes('data:')) body += String((await once(stream, 'data'))[0])
    client.close()
    return [headers[':status'], body]
  })
  expect(status).toEqual([200, expect.stringContaining('data: {"protocol":"2.0"}')])
})

test('examples/open-session.ts (ESM and CommonJS): /events ticks, other paths are 404', async () => {
  const { server } = await import('../examples/open-session')
  const url = await exampleUrl(server)
  expect((await fetch(`${url}/nope`)).status).toBe(404)
  const ticks = await readEvents(`${url}/events`, { count: 1, timeout: 3000 })
  expect(ticks.map((e) => e.type)).toEqual(['tick'])
  const viaRequire = await runAsCommonJs(
    packageDir,
    example('examples/open-session.ts'),
    async (ex, req) => {
      const { once } = req('node:events')
      const { readEvents } = req('@sse/core')
      if (!ex.server.listening) await once(ex.server, 'listening')
      const events = await readEvents(`http://127.0.0.1:${ex.server.address().port}/events`, {
        count: 1,
        timeout: 3000,
      })
      return events.map((event: { type: string }) => event.type)
    },
  )
  expect(viaRequire).toEqual(['tick'])
})

test('examples/shutdown.ts: on SIGTERM every stream gets a retry hint, the closes spread over the window, and the process exits', async () => {
  await expectGracefulShutdown(packageDir, 'examples/shutdown.ts')
}, 30_000)
