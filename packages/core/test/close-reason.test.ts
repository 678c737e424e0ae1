import { createSession } from '@sse/core'
import { expect, test } from 'vitest'
import { memorySink } from './fixtures'

const quiet = { retry: false, heartbeat: false } as const

test('a session says why it closed: client, server, slow client, lifetime, transport error', async () => {
  const client = memorySink()
  const byClient = createSession(client, quiet)
  expect(byClient.closeReason).toBeUndefined()
  client.disconnect()
  expect(byClient.closeReason).toBe('client')

  const byServer = createSession(memorySink(), quiet)
  byServer.close()
  expect(byServer.closeReason).toBe('server')
  expect(byServer.signal.reason).toBe('server')

  const full = memorySink()
  full.full = true
  const slow = createSession(full, { ...quiet, maxQueueBytes: 10 })
  slow.send('a long enough first frame')
  slow.send('and a second one that is queued past the bound')
  expect(slow.closeReason).toBe('slow-client')

  const lived = createSession(memorySink(), { ...quiet, maxLifetime: 5, lifetimeJitter: 0 })
  await expect.poll(() => lived.closeReason).toBe('lifetime')

  const broken = new Error('socket hang up')
  const failing = memorySink()
  const session = createSession(failing, quiet)
  failing.write = () => {
    throw broken
  }
  session.send('x')
  expect(session.closeReason).toBe('error')
  expect(session.closeCause).toBe(broken)
  // The first reason stays.
  session.close()
  expect(session.closeReason).toBe('error')
})
