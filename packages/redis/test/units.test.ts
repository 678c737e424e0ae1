import { MAX_POSITION_LENGTH, parseEventId } from '@sse/core'
import { createRedisEngine } from '@sse/redis'
import { Cluster } from 'ioredis'
import { describe, expect, test } from 'vitest'
import { shardKeys, shardOf } from '../src/keys'
import { encodePayload, parseMessage, parsePayload } from '../src/payload'
import {
  compareIds,
  comparePositions,
  isPosition,
  isStreamId,
  ORIGIN,
  previousId,
  toPosition,
  toStreamId,
} from '../src/positions'

// No Redis needed: these run everywhere.

const U64_MAX = '18446744073709551615'

describe('positions', () => {
  test('a stream id and its position convert both ways, up to 64 bits a part', () => {
    const ids = [
      '0-0',
      '0-1',
      '1700000000000-0',
      '1700000000000-5',
      '1796229514409-123456',
      '9007199254740993-9007199254740993',
      `${U64_MAX}-${U64_MAX}`,
    ]
    for (const id of ids) {
      const position = toPosition(id)
      expect(isPosition(position), position).toBe(true)
      expect(toStreamId(position)).toBe(id)
      expect(position.length).toBeLessThanOrEqual(MAX_POSITION_LENGTH)
    }
    expect(toPosition(`${U64_MAX}-${U64_MAX}`)).toHaveLength(27)
    expect(toPosition('1700000000000-5')).toBe('loyw3v28.5')
    expect(toPosition('0-0')).toBe(ORIGIN)
  })

  test("the id just before a stream id: the sequence less one, or the previous millisecond's last", () => {
    expect(previousId('1700000000000-5')).toBe('1700000000000-4')
    expect(previousId('1700000000000-0')).toBe(`1699999999999-${U64_MAX}`)
    expect(previousId('0-1')).toBe('0-0')
    expect(previousId(`${U64_MAX}-0`)).toBe(`18446744073709551614-${U64_MAX}`)
    expect(previousId('9007199254740993-9007199254740993')).toBe(
      '9007199254740993-9007199254740992',
    )
    for (const id of ['1-0', '0-1', `${U64_MAX}-${U64_MAX}`]) {
      expect(isStreamId(previousId(id))).toBe(true)
      expect(compareIds(previousId(id), id)).toBeLessThan(0)
    }
  })

  test('only canonical positions within 64 bits are positions (nothing else can reach Redis)', () => {
    const bad = [
      '',
      '.',
      '1',
      '1.',
      '.1',
      '01.0',
      '1.00',
      'A.0',
      '1.0.0',
      '1-0',
      '-1.0',
      '1.0 ',
      ' 1.0',
      '1.0\r\nPING',
      '*',
      '$',
      '+',
      '(1.0',
      '3w5e11264sgsg.0',
      '0.3w5e11264sgsg',
      'zzzzzzzzzzzzz.0',
      `${'1'.repeat(14)}.0`,
      'x'.repeat(1000),
    ]
    for (const position of bad) expect(isPosition(position), JSON.stringify(position)).toBe(false)
    expect(isPosition('3w5e11264sgsf.3w5e11264sgsf')).toBe(true)
    expect(isStreamId(`${U64_MAX}-0`)).toBe(true)
    for (const id of ['18446744073709551616-0', '01-0', '1-', '1-0-0', '1', '*']) {
      expect(isStreamId(id), id).toBe(false)
    }
  })

  test('compare orders positions exactly, past 2^53 too', () => {
    const ids = [
      '0-0',
      '0-1',
      '0-36',
      '1-0',
      '35-0',
      '36-0',
      '1700000000000-0',
      '1700000000000-1',
      '1700000000001-0',
      '9007199254740992-0',
      '9007199254740993-0',
      `${U64_MAX}-0`,
      `${U64_MAX}-${U64_MAX}`,
    ]
    const positions = ids.map(toPosition)
    const shuffled = [...positions].reverse()
    expect(shuffled.sort(comparePositions)).toEqual(positions)
    for (const position of positions) expect(comparePositions(position, position)).toBe(0)
  })

  test('an id over 32 shards of the longest positions stays under 1,024 characters', () => {
    const longest = toPosition(`${U64_MAX}-${U64_MAX}`)
    const id = Array.from({ length: 32 }, (_, shard) => `${shard}:${longest}`).join(',')
    expect(id.length).toBeLessThan(1024)
    expect(parseEventId(id, 32, isPosition)?.size).toBe(32)
  })
})

describe('shards', () => {
  test('shardOf is FNV-1a over UTF-16 code units: stable across processes and versions', () => {
    // Pinned: changing these moves every topic of every deployment.
    expect(shardOf('', 16)).toBe(0x811c9dc5 % 16)
    expect(shardOf('a', 1 << 30)).toBe(0xe40c292c % (1 << 30))
    expect(shardOf('users/42', 16)).toBe(shardOf('users/42', 16))
    expect([shardOf('users/42', 16), shardOf('orders/7', 16), shardOf('😀', 16)]).toEqual([
      fnv('users/42') % 16,
      fnv('orders/7') % 16,
      fnv('😀') % 16,
    ])
  })

  test('topics spread over every shard', () => {
    const counts = new Array<number>(16).fill(0)
    for (let i = 0; i < 16_000; i++) counts[shardOf(`users/${i}`, 16)]!++
    for (const count of counts) expect(count).toBeGreaterThan(700)
  })

  test("a shard's keys share one hash tag holding the prefix", () => {
    const keys = shardKeys('app:', 3)
    for (const key of Object.values(keys)) expect(key.startsWith('{app:3}')).toBe(true)
  })
})

describe('payloads', () => {
  const hostile = [
    '',
    ' ',
    'plain',
    'line\nbreaks\r\nand\rcarriage',
    '"quoted" \\ backslash',
    '["topics"],"data"',
    '0-0 1-1 {"json":"looking"}',
    '{"e":"x"}',
    'data: forged\n\nid: 1\n\n',
    '\u0000\u0001\u001f\u007f',
    '😀 \ud800 lone surrogate',
    'x'.repeat(100_000),
  ]

  test('any data, event and topics parse back exactly, from the log and from a live message', () => {
    for (const data of hostile) {
      for (const event of [undefined, 'update', 'a b']) {
        const topics = ['users/42', 'a b/c"d', 'x\\y']
        const payload = encodePayload({ topics, data, event })
        expect(parsePayload(payload)).toEqual({ topics, data, event })
        const message = parseMessage(`1-0 2-3 ${payload}`)
        expect(message).toEqual({ prev: '1-0', id: '2-3', payload })
      }
    }
  })

  test('malformed payloads and messages are refused, not guessed', () => {
    for (const payload of ['', 'x', '[]', '[[],"d"]', '[["t"]]', '[["t"],1]', '[[1],"d"]', '{}']) {
      expect(parsePayload(payload), payload).toBeUndefined()
    }
    expect(parsePayload('[["t"],"d",null]')).toBeUndefined()
    for (const message of ['', '1-0', '1-0 2-0', 'x 2-0 []', '1-0 y []', '01-0 2-0 []']) {
      expect(parseMessage(message), message).toBeUndefined()
    }
  })
})

describe('createRedisEngine options', () => {
  test('misuse is a TypeError at the call, with a hint', () => {
    const lazy = { redisOptions: { lazyConnect: true } }
    expect(() => createRedisEngine({ ...lazy, prefix: 'a{b' })).toThrow(/hash tag/)
    expect(() => createRedisEngine({ ...lazy, shards: 0 })).toThrow(/1 to 32/)
    expect(() => createRedisEngine({ ...lazy, shards: 33 })).toThrow(/1 to 32/)
    expect(() => createRedisEngine({ ...lazy, shards: 1.5 })).toThrow(TypeError)
    expect(() => createRedisEngine({ ...lazy, maxLen: 0 })).toThrow(/maxLen/)
    expect(() => createRedisEngine({ ...lazy, maxAge: -1 })).toThrow(/maxAge/)
    expect(() => createRedisEngine({ ...lazy, waitReplicas: -1 })).toThrow(/waitReplicas/)
    expect(() => createRedisEngine({ ...lazy, waitTimeout: 0 })).toThrow(/waitTimeout/)
    expect(() => createRedisEngine({ ...lazy, checkInterval: 0 })).toThrow(/checkInterval/)
    expect(() => createRedisEngine({ redis: {} as never })).toThrow(/ioredis client/)
    const plain = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true })
    expect(() => createRedisEngine({ redis: plain })).toThrow(/shardedSubscribers: true/)
    const replicas = new Cluster([{ host: '127.0.0.1', port: 1 }], {
      lazyConnect: true,
      shardedSubscribers: true,
      scaleReads: 'slave',
    })
    expect(() => createRedisEngine({ redis: replicas })).toThrow(/scaleReads/)
  })
})

/** FNV-1a 32-bit, written out independently of src/keys.ts. */
function fnv(text: string): number {
  let hash = 2166136261n
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i))
    hash = (hash * 16777619n) % 2n ** 32n
  }
  return Number(hash)
}
