import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { CLOSED, CONNECTING, connect } from '../src/index'
import { backoffDelay, parseRetryAfter } from '../src/retry'

// The schedule with fake timers and a fake fetch: exact delays, and proof that
// closing leaves no timer behind. The real-server tests cover the rest.

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(new Date('2030-01-01T00:00:00Z'))
  // Full jitter at the top of its window (random() is < 1 in reality): exact delays.
  vi.spyOn(Math, 'random').mockReturnValue(1)
})
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

const failing = () => new Response('down', { status: 500 })
const eventStream = (body: string) =>
  new Response(body, { headers: { 'content-type': 'text/event-stream' } })

function fakeFetch(...responses: Array<() => Response>) {
  let call = 0
  return vi.fn(async (_url: string | URL | Request, _init?: RequestInit) => {
    const make = responses[Math.min(call, responses.length - 1)]!
    call++
    return make()
  })
}

/** Advances by `ms` and returns how many requests were made by then. */
async function after(ms: number, fetch: ReturnType<typeof fakeFetch>): Promise<number> {
  await vi.advanceTimersByTimeAsync(ms)
  return fetch.mock.calls.length
}

test('the window doubles per failure from the reconnection time, capped by maxRetry', async () => {
  const fetch = fakeFetch(failing)
  const stream = connect('http://test/', { fetch, retry: 1000, maxRetry: 5000 })
  expect(await after(0, fetch)).toBe(1)
  expect(await after(999, fetch)).toBe(1)
  expect(await after(1, fetch)).toBe(2) // 1000
  expect(await after(1999, fetch)).toBe(2)
  expect(await after(1, fetch)).toBe(3) // 2000
  expect(await after(4000, fetch)).toBe(4) // 4000
  expect(await after(5000, fetch)).toBe(5) // 8000 capped to 5000
  expect(await after(5000, fetch)).toBe(6)
  stream.close()
})

test('the backoff resets after a successful open; server retry: replaces the base', async () => {
  const fetch = fakeFetch(
    failing,
    failing,
    () => eventStream('data: ok\n\n'),
    () => eventStream('retry: 50\ndata: ok\n\n'),
  )
  const stream = connect('http://test/', { fetch, retry: 1000 })
  expect(await after(0, fetch)).toBe(1)
  expect(await after(1000, fetch)).toBe(2)
  expect(await after(2000, fetch)).toBe(3) // opens, then ends
  expect(await after(999, fetch)).toBe(3) // window back to 1000
  expect(await after(1, fetch)).toBe(4) // opens with retry: 50, then ends
  expect(await after(50, fetch)).toBe(5)
  stream.close()
})

test('Retry-After as an HTTP date is waited out in full', async () => {
  vi.spyOn(Math, 'random').mockReturnValue(0)
  const fetch = fakeFetch(
    () =>
      new Response(null, {
        status: 503,
        headers: { 'retry-after': 'Tue, 01 Jan 2030 00:00:03 GMT' },
      }),
    () => eventStream(''),
  )
  const stream = connect('http://test/', { fetch, retry: 10 })
  expect(await after(0, fetch)).toBe(1)
  expect(await after(2999, fetch)).toBe(1)
  expect(await after(1, fetch)).toBe(2)
  stream.close()
})

test('close() while waiting to reconnect clears the timer', async () => {
  const fetch = fakeFetch(failing)
  const stream = connect('http://test/', { fetch })
  await after(0, fetch)
  expect(stream.readyState).toBe(CONNECTING)
  expect(vi.getTimerCount()).toBe(1)
  stream.close()
  expect(vi.getTimerCount()).toBe(0)
  expect(await after(60_000, fetch)).toBe(1)
})

test('aborting the signal while waiting to reconnect clears the timer', async () => {
  const fetch = fakeFetch(failing)
  const controller = new AbortController()
  const stream = connect('http://test/', { fetch, signal: controller.signal })
  await after(0, fetch)
  expect(vi.getTimerCount()).toBe(1)
  controller.abort()
  expect(stream.readyState).toBe(CLOSED)
  expect(vi.getTimerCount()).toBe(0)
  expect(await after(60_000, fetch)).toBe(1)
})

test('an open stream holds no timer, and closing it aborts the request', async () => {
  let signal: AbortSignal | undefined
  const fetch = vi.fn(async (_url: string | URL | Request, init?: RequestInit) => {
    signal = init?.signal ?? undefined
    return new Response(new ReadableStream(), {
      headers: { 'content-type': 'text/event-stream' },
    })
  })
  const stream = connect('http://test/', { fetch })
  await vi.advanceTimersByTimeAsync(0)
  expect(vi.getTimerCount()).toBe(0)
  stream.close()
  expect(signal?.aborted).toBe(true)
})

test('backoffDelay: full jitter over the capped window', () => {
  expect(backoffDelay(1000, 30_000, 0, () => 0.5)).toBe(500)
  expect(backoffDelay(1000, 30_000, 3, () => 0.999)).toBe(7992)
  expect(backoffDelay(1000, 30_000, 10_000, () => 0.5)).toBe(15_000)
  expect(backoffDelay(0, 30_000, 0, () => 0.999)).toBe(0)
  expect(backoffDelay(0, 30_000, 12, () => 0.5)).toBe(2048)
})

test('parseRetryAfter: seconds, HTTP dates, garbage', () => {
  const now = Date.parse('2030-01-01T00:00:00Z')
  expect(parseRetryAfter(null, now)).toBeUndefined()
  expect(parseRetryAfter(' 120 ', now)).toBe(120_000)
  expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:05 GMT', now)).toBe(5000)
  expect(parseRetryAfter('Mon, 31 Dec 2029 00:00:00 GMT', now)).toBe(0)
  expect(parseRetryAfter('soon', now)).toBeUndefined()
  expect(parseRetryAfter('-5', now)).toBeUndefined()
})
