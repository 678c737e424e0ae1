import http from 'node:http'
import { createConnectionLimiter, type Session } from '@sse/core'
import { openSession, sse } from '@sse/node-http'
import { type ListeningServer, listen } from '@sse/test-utils'
import { afterAll, beforeAll, expect, test } from 'vitest'

const limiter = createConnectionLimiter({ max: 3, maxPerKey: 2, retryAfter: 3 })
const sessions: Session[] = []
let server: ListeningServer
let base: string

beforeAll(async () => {
  const http1 = http.createServer(
    sse((session) => void sessions.push(session), {
      heartbeat: false,
      limit: { limiter, key: ({ req }) => String(req.headers['x-user'] ?? 'anonymous') },
    }),
  )
  server = await listen(http1)
  base = `${server.url}/`
})

afterAll(async () => {
  for (const session of sessions) session.close()
  await server.close()
})

async function open(user: string) {
  const controller = new AbortController()
  const response = await fetch(base, { headers: { 'x-user': user }, signal: controller.signal })
  return { response, leave: () => controller.abort() }
}

test('429 with Retry-After past the per-key and total limits; leaving frees the slot', async () => {
  const ann1 = await open('ann')
  const ann2 = await open('ann')
  const ann3 = await open('ann')
  expect([ann1, ann2, ann3].map((c) => c.response.status)).toEqual([200, 200, 429])
  expect(ann3.response.headers.get('retry-after')).toBe('3')
  expect(await ann3.response.text()).toBe('Too many open event streams\n')

  const bob = await open('bob')
  const cat = await open('cat')
  expect([bob.response.status, cat.response.status]).toEqual([200, 429]) // total of 3

  ann1.leave()
  for (let i = 0; i < 100 && limiter.size > 2; i++) await new Promise((r) => setTimeout(r, 10))
  expect(limiter.size).toBe(2)
  const cat2 = await open('cat')
  expect(cat2.response.status).toBe(200)
  for (const c of [ann2, bob, cat2]) c.leave()
})

test('openSession over the limit returns undefined, answers 429, and writes nothing else', async () => {
  const tight = createConnectionLimiter({ max: 1, retryAfter: 2 })
  const results: Array<'session' | 'refused'> = []
  const imperative = await listen(
    http.createServer((req, res) => {
      const session = openSession(req, res, { heartbeat: false, limit: { limiter: tight } })
      results.push(session === undefined ? 'refused' : 'session')
      if (session !== undefined) sessions.push(session)
    }),
  )
  try {
    const held = new AbortController()
    const first = await fetch(imperative.url, { signal: held.signal })
    const second = await fetch(imperative.url)
    expect([first.status, second.status]).toEqual([200, 429])
    expect(second.headers.get('retry-after')).toBe('2')
    expect(await second.text()).toBe('Too many open event streams\n')
    expect(results).toEqual(['session', 'refused'])
    held.abort()
  } finally {
    await imperative.close()
  }
})
