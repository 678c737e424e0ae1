import { readFileSync } from 'node:fs'
import { readEvents } from '@sse/core'
import { afterAll, expect, test } from 'vitest'
import { app, failures } from '../examples/ticks'

afterAll(() => app.close())

test('the README example: three ticks, then the failure ends the stream and reaches onError', async () => {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const events = await readEvents(`http://127.0.0.1:${port}/ticks`, { timeout: 5000 })
  expect(events.map((event) => event.data)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}'])
  expect(failures).toEqual([new Error('the tick source failed')])
})

test('the README shows the example file as it is', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const source = readFileSync(new URL('../examples/ticks.ts', import.meta.url), 'utf8')
  expect(readme).toContain(source.trim())
})
