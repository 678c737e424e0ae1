import { describe, expect, test } from 'vitest'
import { classifyResponse } from '../src/response'

const href = 'https://example.test/events'
const answer = (status: number, headers: Record<string, string> = {}, statusText = '') => ({
  status,
  statusText,
  headers: new Headers(headers),
})
const stream = { 'content-type': 'text/event-stream; charset=utf-8' }

describe('classifyResponse: a pure function of status and headers', () => {
  test('200 text/event-stream (any parameters, any case) is a stream', () => {
    expect(classifyResponse(href, answer(200, stream), true).kind).toBe('stream')
    expect(
      classifyResponse(href, answer(200, { 'content-type': ' Text/Event-Stream ' }), true).kind,
    ).toBe('stream')
  })

  test('200 with another or no Content-Type fails the connection', () => {
    for (const headers of [
      { 'content-type': 'text/plain' },
      {},
      { 'content-type': 'text/event-streams' },
    ]) {
      const verdict = classifyResponse(href, answer(200, headers), true)
      expect(verdict.kind).toBe('fail')
      if (verdict.kind === 'fail') expect(verdict.error.code).toBe('SSE_INVALID_RESPONSE')
    }
  })

  test('204 is done (not a failure); every other 2xx fails, never retried', () => {
    expect(classifyResponse(href, answer(204), true).kind).toBe('done')
    for (const status of [201, 205, 206, 210, 299]) {
      expect(classifyResponse(href, answer(status, stream), true).kind).toBe('fail')
    }
  })

  test('408, 429 and 5xx retry with Retry-After by default; fail with retryServerErrors: false', () => {
    const verdict = classifyResponse(href, answer(503, { 'retry-after': '7' }, 'Busy'), true)
    expect(verdict).toMatchObject({ kind: 'retry', retryAfter: 7000 })
    if (verdict.kind === 'retry') {
      expect(verdict.error.status).toBe(503)
      expect(verdict.error.message).toBe(`${href} answered 503 Busy`)
    }
    for (const status of [408, 429, 500, 599]) {
      expect(classifyResponse(href, answer(status), true).kind).toBe('retry')
      expect(classifyResponse(href, answer(status), false).kind).toBe('fail')
    }
  })

  test('401 and 403 go to onUnauthorized; other 4xx and 3xx fail', () => {
    expect(classifyResponse(href, answer(401), true).kind).toBe('unauthorized')
    expect(classifyResponse(href, answer(403), false).kind).toBe('unauthorized')
    for (const status of [304, 400, 404, 410]) {
      expect(classifyResponse(href, answer(status), true).kind).toBe('fail')
    }
  })
})
