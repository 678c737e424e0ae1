import {
  assertSelector,
  assertTopic,
  MAX_TOPIC_LENGTH,
  MAX_TOPIC_SEGMENTS,
  selectorMatches,
} from '@sse/core'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { TopicIndex } from '../src/topics'

describe('topic and selector syntax', () => {
  test('valid topics and selectors pass through', () => {
    for (const topic of ['users/42', 'a', 'é/😀', 'x'.repeat(MAX_TOPIC_LENGTH), 'a b/c-d.e']) {
      expect(assertTopic(topic)).toBe(topic)
      expect(assertSelector(topic)).toBe(topic)
    }
    for (const selector of ['*', '**', 'orders/*', 'a/*/c', 'a/**', '*/b/**']) {
      expect(assertSelector(selector)).toBe(selector)
    }
  })

  test('each kind of bad topic is a TypeError that says what is wrong', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['', /empty/],
      ['a//b', /empty segment/],
      ['/a', /empty segment/],
      ['a/', /empty segment/],
      ['a\nb', /control/],
      ['a\u007f', /control/],
      ['x'.repeat(MAX_TOPIC_LENGTH + 1), /longer than/],
      [
        Array(MAX_TOPIC_SEGMENTS + 1)
          .fill('a')
          .join('/'),
        /segments/,
      ],
      ['a/*', /cannot contain/],
      [null, /must be a string/],
    ]
    for (const [topic, message] of cases) {
      expect(() => assertTopic(topic), String(topic)).toThrow(message)
    }
    expect(() => assertSelector('**/a')).toThrow(/last segment/)
    expect(() => assertSelector('a/b*')).toThrow(/whole segment/)
  })

  test('* is one segment, a trailing ** one or more', () => {
    expect(selectorMatches('orders/*', 'orders/7')).toBe(true)
    expect(selectorMatches('orders/*', 'orders/7/items')).toBe(false)
    expect(selectorMatches('orders/*', 'orders')).toBe(false)
    expect(selectorMatches('orders/**', 'orders/7/items')).toBe(true)
    expect(selectorMatches('orders/**', 'orders')).toBe(false)
    expect(selectorMatches('*/items', 'orders/items')).toBe(true)
    expect(selectorMatches('users/42', 'users/42')).toBe(true)
    expect(selectorMatches('users/42', 'users/420')).toBe(false)
  })
})

describe('TopicIndex', () => {
  const segment = fc.constantFrom('a', 'b', 'c')
  const topic = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'))
  const selector = fc
    .tuple(fc.array(fc.constantFrom('a', 'b', '*'), { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([s, deep]) => (deep ? [...s, '**'] : s).join('/'))

  test('matches exactly what selectorMatches says, and forgets removed selectors', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), selector), { maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 29 }), { maxLength: 10 }),
        fc.array(topic, { minLength: 1, maxLength: 10 }),
        (entries, removals, topics) => {
          const index = new TopicIndex<number>()
          const live = new Set<string>()
          for (const [member, sel] of entries) {
            index.add(sel, member)
            live.add(`${member} ${sel}`)
          }
          for (const i of removals) {
            const entry = entries[i]
            if (entry === undefined) continue
            index.remove(entry[1], entry[0])
            live.delete(`${entry[0]} ${entry[1]}`)
          }
          for (const t of topics) {
            const found = new Set<number>()
            index.match(t, (member) => found.add(member))
            const expected = new Set<number>()
            for (const key of live) {
              const [member, sel] = key.split(' ') as [string, string]
              if (selectorMatches(sel, t)) expected.add(Number(member))
            }
            expect(found).toEqual(expected)
          }
        },
      ),
      { numRuns: 500 },
    )
  })

  test('an emptied index holds no nodes: removing every selector frees its memory', () => {
    const index = new TopicIndex<number>()
    for (let i = 0; i < 1000; i++) {
      index.add(`users/${i}`, i)
      index.add(`rooms/${i}/*`, i)
      index.add(`deep/${i}/**`, i)
    }
    for (let i = 0; i < 1000; i++) {
      index.remove(`users/${i}`, i)
      index.remove(`rooms/${i}/*`, i)
      index.remove(`deep/${i}/**`, i)
    }
    expect(index.topics).toBe(0)
    let visited = 0
    index.match('rooms/1/x', () => visited++)
    index.match('deep/1/x', () => visited++)
    expect(visited).toBe(0)
    expect(index.isEmpty()).toBe(true)
  })
})
