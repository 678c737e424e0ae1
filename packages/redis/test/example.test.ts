import { fork } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { expect, test } from 'vitest'
import { describeRedis, type OpenStream, openStream, testRedisAnswers, until } from './helpers'
import { freePort, useOwnRedis } from './processes'

// The README's example is this file: run twice, as the README says.

const packageDir = resolve(import.meta.dirname, '..')
const example = resolve(packageDir, 'examples/two-processes.ts')

testRedisAnswers()

test('the README shows the example file as it is', async () => {
  const [readme, source] = await Promise.all([
    readFile(resolve(packageDir, 'README.md'), 'utf8'),
    readFile(example, 'utf8'),
  ])
  expect(readme).toContain(`\`\`\`ts\n${source}\`\`\``)
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
})
