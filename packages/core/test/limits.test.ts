import {
  createConnectionLimiter,
  createResponse,
  createSession,
  type Session,
  sse,
} from '@sse/core'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { memorySink } from './fixtures'

afterEach(() => {
  vi.useRealTimers()
})

describe('createConnectionLimiter', () => {
  test('caps the total and the count per key; release frees the slot once', () => {
    const limiter = createConnectionLimiter({ max: 3, maxPerKey: 2 })
    const a1 = limiter.acquire('a')
    const a2 = limiter.acquire('a')
    expect(limiter.acquire('a')).toBeUndefined() // per key
    const b1 = limiter.acquire('b')
    expect(limiter.acquire('c')).toBeUndefined() // total
    expect(limiter.size).toBe(3)
    a1!()
    a1!() // twice is once
    expect(limiter.size).toBe(2)
    expect(limiter.count('a')).toBe(1)
    expect(limiter.acquire('a')).toBeTypeOf('function')
    a2!()
    b1!()
  })

  test('keys at zero are forgotten, so churn over many keys cannot grow memory', () => {
    const limiter = createConnectionLimiter({ maxPerKey: 1 })
    for (let i = 0; i < 1000; i++) limiter.acquire(`ip-${i}`)!()
    expect(limiter.size).toBe(0)
    expect(limiter.count('ip-1')).toBe(0)
    // Forgotten keys start fresh.
    expect(limiter.acquire('ip-1')).toBeTypeOf('function')
  })

  test('invalid limits are a TypeError', () => {
    expect(() => createConnectionLimiter({ max: 0 })).toThrow(TypeError)
    expect(() => createConnectionLimiter({ retryAfter: 1.5 })).toThrow(TypeError)
  })
})

describe('limit on createResponse', () => {
  test('over the limit: 429 with Retry-After, the handler never runs; a closed stream frees its slot', async () => {
    const limiter = createConnectionLimiter({ max: 1, retryAfter: 7 })
    const opened: Session[] = []
    const open = () =>
      createResponse(new Request('http://localhost/'), (s) => void opened.push(s), {
        limit: { limiter },
      })
    const first = open()
    const second = open()
    expect(first.status).toBe(200)
    expect(second.status).toBe(429)
    expect(second.headers.get('retry-after')).toBe('7')
    expect(opened).toHaveLength(1)
    await first.body!.cancel() // the client leaves
    expect(limiter.size).toBe(0)
    expect(open().status).toBe(200)
  })

  test('a limiter with maxPerKey needs a key: a TypeError, not a silently global limit', () => {
    const limiter = createConnectionLimiter({ maxPerKey: 1 })
    expect(() => sse(() => undefined, { limit: { limiter } })).toThrow(/maxPerKey.*key/)
    expect(limiter.size).toBe(0)
  })

  test('the 429 keeps the route headers (CORS), so a cross-origin client can read it', async () => {
    const limiter = createConnectionLimiter({ max: 1, retryAfter: 3 })
    const GET = sse(() => undefined, {
      limit: { limiter },
      headers: {
        'access-control-allow-origin': '*',
        'access-control-expose-headers': 'retry-after',
      },
    })
    const first = GET(new Request('http://localhost/'))
    const refused = GET(new Request('http://localhost/'))
    expect(refused.status).toBe(429)
    expect(refused.headers.get('access-control-allow-origin')).toBe('*')
    expect(refused.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(refused.headers.get('retry-after')).toBe('3')
    expect(await refused.text()).toBe('Too many open event streams\n')
    await first.body!.cancel()
    expect(limiter.size).toBe(0)
  })

  test('per-key limits use the key function', () => {
    const limiter = createConnectionLimiter({ maxPerKey: 1 })
    const limit = { limiter, key: (r: Request) => r.headers.get('x-user') ?? undefined }
    const as = (user: string) =>
      createResponse(
        new Request('http://localhost/', { headers: { 'x-user': user } }),
        () => undefined,
        {
          limit,
        },
      ).status
    expect([as('ann'), as('ann'), as('bob')]).toEqual([200, 429, 200])
  })

  test('invalid options do not leak the slot', () => {
    const limiter = createConnectionLimiter({ max: 1 })
    expect(() =>
      createResponse(new Request('http://localhost/'), () => undefined, {
        limit: { limiter },
        heartbeat: -5,
      }),
    ).toThrow(TypeError)
    expect(limiter.size).toBe(0)
  })
})

describe('maxLifetime', () => {
  test('closes the session within [lifetime × (1 − jitter), lifetime] and clears its timer', () => {
    vi.useFakeTimers()
    const closedAt: number[] = []
    for (let i = 0; i < 50; i++) {
      const session = createSession(memorySink(), {
        heartbeat: false,
        maxLifetime: 10_000,
        lifetimeJitter: 0.5,
      })
      const started = Date.now()
      session.signal.addEventListener('abort', () => closedAt.push(Date.now() - started))
    }
    vi.advanceTimersByTime(10_000)
    expect(closedAt).toHaveLength(50)
    expect(Math.min(...closedAt)).toBeGreaterThanOrEqual(5000)
    expect(Math.max(...closedAt)).toBeLessThanOrEqual(10_000)
    // Spread out, not all at once.
    expect(new Set(closedAt).size).toBeGreaterThan(10)
    expect(vi.getTimerCount()).toBe(0)
  })

  test('closing early clears the lifetime timer', () => {
    vi.useFakeTimers()
    const session = createSession(memorySink(), { heartbeat: false, maxLifetime: 60_000 })
    expect(vi.getTimerCount()).toBe(1)
    session.close()
    expect(vi.getTimerCount()).toBe(0)
  })

  test('invalid lifetimes are a TypeError', () => {
    expect(() => createSession(memorySink(), { maxLifetime: 0 })).toThrow(TypeError)
    expect(() => createSession(memorySink(), { maxLifetime: 1, lifetimeJitter: 2 })).toThrow(
      TypeError,
    )
  })
})
