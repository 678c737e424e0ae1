import { fork } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import { resolve } from 'node:path'
import { readmeExamples, runAsCommonJs } from '@sse/test-utils/docs'
import { expect, test } from 'vitest'
import { describeRedis, type OpenStream, openStream, testRedisAnswers, until } from './helpers'
import { freePort, useOwnRedis } from './processes'

// The README's example is this file: run twice, as the README says.

const packageDir = resolve(import.meta.dirname, '..')
const example = resolve(packageDir, 'examples/two-processes.ts')

testRedisAnswers()

test('every README code block is an example file; the install line names what they import', () => {
  expect(readmeExamples(packageDir).map((e) => e.file)).toEqual(['examples/two-processes.ts'])
})

describeRedis('examples/two-processes.ts', () => {
  // Its own Redis: the example uses the default prefix.
  const redis = useOwnRedis()
  const streams: OpenStream[] = []
  redis.cleanup(() => {
    for (const stream of streams) stream.close()
  })

  test('a notification posted to one process reaches that user’s tabs on both, only theirs', async () => {
    const ports = [await freePort(), await freePort()]
    const processes = ports.map((port) =>
      fork(example, [], {
        cwd: packageDir,
        execArgv: ['--import', 'tsx', '--conditions=@sse/source'],
        env: { ...process.env, PORT: String(port), REDIS_URL: redis.url },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    )
    try {
      const [one, two] = ports.map((port) => `http://127.0.0.1:${port}`) as [string, string]
      const answers = (url: string) =>
        fetch(`${url}/notify?user=nobody`, { method: 'POST' }).then(
          (r) => r.ok,
          () => false,
        )
      await until(
        async () => (await answers(one)) && (await answers(two)),
        'both processes',
        20_000,
      )
      const tabs = [`${one}/?user=42`, `${two}/?user=42`, `${two}/?user=7`].map((url) => {
        const stream = openStream(url)
        streams.push(stream)
        return stream
      })
      // Live once the first id arrives (an id-only frame after the subscription is ready).
      await until(() => tabs.every((tab) => tab.lastEventId() !== ''), 'three live tabs')
      expect((await fetch(`${one}/notify?user=42`, { method: 'POST' })).status).toBe(200)
      await until(() => tabs[0]!.events.length === 1 && tabs[1]!.events.length === 1, 'user 42')
      expect((await fetch(`${two}/notify?user=7`, { method: 'POST' })).status).toBe(200)
      await until(() => tabs[2]!.events.length === 1, 'user 7')
      expect(tabs.map((tab) => tab.events.map((event) => event.type))).toEqual([
        ['notification'],
        ['notification'],
        ['notification'],
      ])
      // SIGTERM: the process ends its streams and exits by itself.
      for (const child of processes) child.kill('SIGTERM')
      for (const child of processes) {
        const [code, signal] =
          child.exitCode === null ? await once(child, 'exit') : [child.exitCode, null]
        expect({ code, signal }).toEqual({ code: 0, signal: null })
      }
    } finally {
      for (const child of processes) if (child.exitCode === null) child.kill('SIGKILL')
    }
  }, 40_000)

  test('regression: a GET that arrives after SIGTERM began gets a clean answer or a refused connection, never an uncaught "join: the channel is closed"', async () => {
    const port = await freePort()
    const child = fork(example, [], {
      cwd: packageDir,
      execArgv: ['--import', 'tsx', '--conditions=@sse/source'],
      env: { ...process.env, PORT: String(port), REDIS_URL: redis.url },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    })
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    // One keep-alive socket, so the second GET reuses the first stream's connection.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const get = (): Promise<string> =>
      new Promise((resolve) => {
        const req = http.get(`http://127.0.0.1:${port}/?user=42`, { agent }, (res) => {
          res.resume()
          res.once('data', () => {
            if (res.statusCode === 200) resolve('streaming')
          })
          res.once('end', () => resolve(`ended ${res.statusCode}`))
        })
        req.once('error', (error: NodeJS.ErrnoException) => resolve(`refused ${error.code}`))
      })
    try {
      await until(async () => (await get().catch(() => '')) === 'streaming', 'the process', 20_000)
      child.kill('SIGTERM')
      // The stream ends; the next GET goes out while the process is shutting down.
      const after = await get()
      expect(after).toMatch(/^(ended 200|refused E[A-Z]+|streaming)$/)
      const [code] = child.exitCode === null ? await once(child, 'exit') : [child.exitCode]
      expect(code).toBe(0)
      expect(stderr).not.toMatch(/TypeError|Uncaught|unhandled/i)
    } finally {
      agent.destroy()
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }, 40_000)

  test('examples/two-processes.ts (CommonJS, the built packages): it loads with require and serves', async () => {
    const readme = readmeExamples(packageDir)[0]!
    const status = await runAsCommonJs(
      packageDir,
      readme,
      async (ex, req) => {
        const { once } = req('node:events')
        if (!ex.server.listening) await once(ex.server, 'listening')
        const url = `http://127.0.0.1:${ex.server.address().port}`
        const denied = await fetch(`${url}/?user=`)
        const posted = await fetch(`${url}/notify?user=42`, { method: 'POST' })
        return [denied.status, posted.status]
      },
      { env: { REDIS_URL: redis.url } },
    )
    expect(status).toEqual([401, 200])
  })
})
