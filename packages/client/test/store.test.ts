import { connect, createStreamStore } from '@sse/client'
import { openStream, startServer } from '@sse/test-utils/scripted-server'
import { until } from '@sse/test-utils/until'
import { expect, test } from 'vitest'

test('opens with the first subscriber, snapshots open → events → close, closes with the last', async () => {
  const server = await startServer((seen) => openStream(seen.res, 'retry: 10000\ndata: one\n\n'))
  const seen: string[] = []
  const store = createStreamStore(() => connect(server.url), {
    events: ['named'],
    onEvent: (event) => seen.push(event.data),
  })
  const first = store.getSnapshot()
  expect(first).toEqual({ readyState: 0, lastEvent: null, error: null })
  expect(server.requests).toHaveLength(0) // nothing connects before a subscriber
  let changes = 0
  const unsubscribe = store.subscribe(() => changes++)
  await until(() => store.getSnapshot().lastEvent?.data === 'one', 'the first event')
  expect(store.getSnapshot().readyState).toBe(1)
  expect(store.getSnapshot()).toBe(store.getSnapshot()) // stable until a change
  server.requests[0]!.res.write('event: named\ndata: two\n\nevent: other\ndata: skipped\n\n')
  await until(() => store.getSnapshot().lastEvent?.data === 'two', 'the named event')
  expect(seen).toEqual(['one', 'two'])
  expect(changes).toBeGreaterThanOrEqual(3)
  unsubscribe()
  await server.requests[0]!.gone
  expect(server.requests).toHaveLength(1)
  await server.close()
})

test('close() closes for good: the snapshot says closed, a new subscriber does not reopen', async () => {
  const server = await startServer((seen) => openStream(seen.res, 'retry: 10000\n\n'))
  const store = createStreamStore(() => connect(server.url))
  const unsubscribe = store.subscribe(() => undefined)
  await until(() => store.getSnapshot().readyState === 1, 'open')
  store.close()
  expect(store.getSnapshot().readyState).toBe(2)
  unsubscribe()
  store.subscribe(() => undefined)()
  await new Promise((resolve) => setTimeout(resolve, 100))
  expect(server.requests).toHaveLength(1)
  await server.close()
})
