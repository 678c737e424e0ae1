import { assertTopic, selectorMatches } from '@sse/core'
import { createNatsEngine } from '@sse/nats'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { decodeEvent, encodeEvent } from '../src/payload'
import {
  comparePositions,
  epochOf,
  formatPosition,
  isPosition,
  parsePosition,
} from '../src/positions'
import { holdsAllAfter } from '../src/read'
import { captures } from '../src/stream'
import { selectorToSubject, subjectToTopic, topicToSubject } from '../src/subjects'

// Pure pieces, without NATS: positions, the subject mapping, the body
// format, the "whole history" rule, the options' validation.

describe('positions', () => {
  test('an epoch and a sequence round-trip; the longest stays under core’s 27 characters', () => {
    const max = Number.MAX_SAFE_INTEGER
    for (const [epoch, seq] of [
      [1, 0],
      [1_796_233_792_068_045, 1],
      [max, max],
    ] as const) {
      const position = formatPosition(epoch, seq)
      expect(parsePosition(position)).toEqual({ epoch, seq })
      expect(position.length).toBeLessThanOrEqual(23)
    }
  })

  test('only the canonical form of a position is one: forged ids stop here', () => {
    const forged = [
      '',
      '.',
      'a.',
      '.1',
      '0.1', // no epoch 0
      '01.1',
      'a.01',
      'A.1',
      'a.1.2',
      'a-1',
      'a.zzzzzzzzzzzz', // past 2^53
      `${'z'.repeat(12)}.1`,
      ' a.1',
    ]
    for (const position of forged) expect(isPosition(position), position).toBe(false)
    expect(isPosition('lr.0')).toBe(true)
  })

  test('positions order by epoch, then sequence: exactly within one stream', () => {
    expect(comparePositions('b.1', 'b.2')).toBeLessThan(0)
    expect(comparePositions('b.z', 'b.10')).toBeLessThan(0)
    expect(comparePositions('c.1', 'b.zz')).toBeGreaterThan(0)
    expect(comparePositions('b.5', 'b.5')).toBe(0)
  })

  test('the epoch is the stream’s creation time in microseconds, nanoseconds and offsets included', () => {
    expect(epochOf('2026-12-02T17:50:51.031899144Z')).toBe(
      Date.UTC(2026, 11, 2, 17, 50, 51) * 1000 + 31_899,
    )
    expect(epochOf('2026-12-02T17:50:51Z')).toBe(Date.UTC(2026, 11, 2, 17, 50, 51) * 1000)
    expect(epochOf('2026-12-02T18:50:51.5+01:00')).toBe(
      Date.UTC(2026, 11, 2, 17, 50, 51) * 1000 + 500_000,
    )
    expect(() => epochOf('0001-01-01T00:00:00Z')).toThrow(TypeError)
    expect(() => epochOf('yesterday')).toThrow(TypeError)
  })
})

describe('topics and NATS subjects', () => {
  const segment = fc
    .string({
      unit: fc.oneof(
        fc.constantFrom('.', '*', '>', '_', ' ', '-', 'a', 'Z', '0', 'é'),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      ),
      minLength: 1,
      maxLength: 6,
    })
    .filter((text) => !text.includes('/') && isTopic(text))
  const topic = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('/'))
  const selector = fc
    .tuple(
      fc.array(fc.oneof(segment, fc.constant('*')), { minLength: 1, maxLength: 4 }),
      fc.boolean(),
    )
    .map(([parts, deep]) => (deep ? [...parts, '**'] : parts).join('/'))

  test('a topic maps to a subject of safe tokens, one per segment, and back (property)', () => {
    fc.assert(
      fc.property(topic, (text) => {
        const subject = topicToSubject(text)
        expect(subject).toMatch(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/)
        expect(subject.split('.')).toHaveLength(text.split('/').length)
        expect(subjectToTopic(subject)).toBe(text)
      }),
      { numRuns: 2000 },
    )
  })

  test('no topic can widen a subscription: a selector’s filter matches a topic’s subject exactly when the selector matches the topic (property)', () => {
    fc.assert(
      fc.property(selector, topic, (pattern, text) => {
        expect(natsMatch(selectorToSubject(pattern), topicToSubject(text))).toBe(
          selectorMatches(pattern, text),
        )
      }),
      { numRuns: 5000 },
    )
    // And on the shapes most likely to go wrong.
    expect(topicToSubject('a.b/c>d/e f')).toBe('a_2Eb.c_3Ed.e_20f')
    expect(natsMatch(selectorToSubject('a.b/*'), topicToSubject('a/b/c'))).toBe(false)
  })

  test('only subjects the mapping makes map back to a topic', () => {
    for (const subject of [
      '',
      'a..b',
      'a.*',
      'a.>',
      'a b',
      'a._4',
      'a._zz',
      'a._41',
      'a._C3',
      'a._2F',
    ]) {
      expect(() => subjectToTopic(subject), subject).toThrow(TypeError)
    }
    expect(() => topicToSubject('a/*')).toThrow(TypeError)
  })

  test('a stream subject filter captures a literal subject as NATS does', () => {
    expect(captures('sse.*', 'sse.3')).toBe(true)
    expect(captures('sse.>', 'sse.3')).toBe(true)
    expect(captures('>', 'sse.3')).toBe(true)
    expect(captures('sse.*', 'sse.3.x')).toBe(false)
    expect(captures('sse.3', 'sse.3')).toBe(true)
    expect(captures('sse', 'sse.3')).toBe(false)
    expect(captures('other.*', 'sse.3')).toBe(false)
  })
})

function isTopic(text: string): boolean {
  try {
    assertTopic(text)
    return true
  } catch {
    return false
  }
}

/** NATS subject matching, as the server does it (`*` one token, `>` one or more). */
function natsMatch(filter: string, subject: string): boolean {
  return captures(filter, subject)
}

describe('message bodies', () => {
  test('any data, topics and type parse back exactly (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 4 }),
        fc.string({ unit: 'binary' }),
        fc.option(fc.string(), { nil: undefined }),
        (topics, data, event) => {
          expect(decodeEvent(encodeEvent({ topics, data, event }))).toEqual({ topics, data, event })
        },
      ),
    )
  })

  test('a body this package did not write is refused', () => {
    const bytes = (text: string) => new TextEncoder().encode(text)
    for (const body of [
      '',
      'null',
      '[]',
      '{"t":[],"d":""}',
      '{"t":["a"]}',
      '{"t":["a"],"d":1}',
      '{"t":[1],"d":""}',
      '{"t":["a"],"d":"","e":2}',
      '\xff',
    ]) {
      expect(decodeEvent(bytes(body)), body).toBeUndefined()
    }
  })
})

describe('whether the stream holds everything after a sequence', () => {
  test('no message removed after it: first sequence at most seq + 1 and no holes', () => {
    expect(holdsAllAfter({ epoch: 1, first: 1, last: 0, messages: 0 }, 0)).toBe(true)
    expect(holdsAllAfter({ epoch: 1, first: 1, last: 10, messages: 10 }, 0)).toBe(true)
    expect(holdsAllAfter({ epoch: 1, first: 5, last: 10, messages: 6 }, 4)).toBe(true)
    expect(holdsAllAfter({ epoch: 1, first: 5, last: 10, messages: 6 }, 3)).toBe(false)
    // A hole (one shard trimmed by max_msgs_per_subject): not provable this way.
    expect(holdsAllAfter({ epoch: 1, first: 5, last: 10, messages: 5 }, 7)).toBe(false)
    // Everything purged: a position at the end lost nothing after it.
    expect(holdsAllAfter({ epoch: 1, first: 11, last: 10, messages: 0 }, 10)).toBe(true)
    expect(holdsAllAfter({ epoch: 1, first: 11, last: 10, messages: 0 }, 9)).toBe(false)
  })
})

describe('options', () => {
  test('misuse is a TypeError at the call, naming the option', () => {
    const bad: Array<[Parameters<typeof createNatsEngine>[0], RegExp]> = [
      [{ stream: 'has.dot' }, /stream/],
      [{ stream: '' }, /stream/],
      [{ subjectPrefix: 'sse.*' }, /subjectPrefix/],
      [{ subjectPrefix: 'a..b' }, /subjectPrefix/],
      [{ subjectPrefix: 'a b' }, /subjectPrefix/],
      [{ shards: 0 }, /shards/],
      [{ shards: 33 }, /shards/],
      [{ replicas: 0 }, /replicas/],
      [{ storage: 'disk' as never }, /storage/],
      [{ maxLen: 0 }, /maxLen/],
      [{ maxAge: 1.5 }, /maxAge/],
      [{ commandTimeout: 0 }, /commandTimeout/],
      [{ checkInterval: 10 }, /checkInterval/],
      [{ connection: {} as never }, /connection/],
    ]
    for (const [options, message] of bad) {
      expect(() => createNatsEngine(options), JSON.stringify(options)).toThrow(TypeError)
      expect(() => createNatsEngine(options)).toThrow(message)
    }
  })
})
