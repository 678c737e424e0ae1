import { connectShared } from '@sse/client/shared'
import { openStream, startServer } from '@sse/test-utils/scripted-server'
import { expect, test } from 'vitest'

// The shared connection itself is tested in Chromium (browser.test.ts);
// here, where navigator.locks is missing (Node), it must be a plain connect.

test('without navigator.locks it falls back to a connection of its own', async () => {
  expect((globalThis as { navigator?: { locks?: unknown } }).navigator?.locks).toBeUndefined()
  const server = await startServer((seen) => openStream(seen.res, 'id: 1\ndata: hello\n\n'))
  const stream = connectShared(server.url, { key: 'ignored here' })
  const events: string[] = []
  for await (const event of stream) {
    events.push(event.data)
    break
  }
  expect(events).toEqual(['hello'])
  expect(server.requests).toHaveLength(1)
  await server.close()
})

test('a function URL is refused: tabs must agree on the URL before they connect', () => {
  expect(() => connectShared((() => '/events') as never)).toThrow(TypeError)
})
