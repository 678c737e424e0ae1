import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { readEvents } from '@sse/core'
import { sse } from '@sse/express'
import express from 'express'
import { afterAll, expect, test } from 'vitest'

const app = express()
app.get(
  '/countdown',
  sse((session) => {
    for (const n of [3, 2, 1]) session.send(String(n), { event: 'tick' })
    session.send('liftoff', { event: 'done' })
  }),
)
const server = app.listen(0, '127.0.0.1')
await once(server, 'listening')
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
afterAll(() => {
  server.closeAllConnections()
  server.close()
})

test('GET /countdown streams three ticks, then done', async () => {
  const events = await readEvents(`${url}/countdown`, { count: 4, timeout: 2000 })
  expect(events.map((event) => [event.type, event.data])).toEqual([
    ['tick', '3'],
    ['tick', '2'],
    ['tick', '1'],
    ['done', 'liftoff'],
  ])
})
