import {
  createHub,
  createMemoryEngine,
  type Engine,
  type GapInfo,
  type ParsedEvent,
  SseError,
} from '@sse/core'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { openSession, shardedEngine } from './fixtures'

/** Data of the dispatched events (the id-only frames dispatch nothing). */
function data(events: ParsedEvent[]): string[] {
  return events.map((event) => event.data)
}

/** The id a client would reconnect with: the parser's last event id after everything written. */
function lastIdOf(sink: ReturnType<typeof openSession>['sink']): string {
  const match = [...sink.text().matchAll(/^id: (.*)$/gm)].at(-1)
  return match?.[1] ?? ''
}

function topicsOnDistinctShards(engine: Engine, count: number): string[] {
  const found = new Map<number, string>()
  for (let i = 0; found.size < count; i++) {
    const topic = `users/${i}`
    if (!found.has(engine.shardOf(topic))) found.set(engine.shardOf(topic), topic)
  }
  return [...found.values()]
}

describe('delivery', () => {
  test('an event reaches every session whose selectors match one of its topics, once', async () => {
    const hub = createHub()
    const a = openSession()
    const b = openSession()
    const c = openSession()
    hub.subscribe(a.session, ['users/1', 'rooms/lobby', 'rooms/*'])
    hub.subscribe(b.session, 'users/2')
    hub.subscribe(c.session, ['rooms/**'])
    await hub.publish('users/1', 'to a')
    await hub.publish('users/2', 'to b')
    await hub.publish(['rooms/lobby', 'users/2'], 'lobby and b')
    await hub.publish('rooms/lobby/threads/9', 'deep')
    expect(data(a.sink.events())).toEqual(['to a', 'lobby and b'])
    expect(data(b.sink.events())).toEqual(['to b', 'lobby and b'])
    expect(data(c.sink.events())).toEqual(['lobby and b', 'deep'])
  })

  test('the same bytes reach every session: encoded once per event', async () => {
    const hub = createHub()
    const sessions = Array.from({ length: 5 }, () => openSession())
    await Promise.all(
      sessions.map(({ session }) => hub.subscribe(session, ['news', 'news/*']).ready),
    )
    const before = sessions.map(({ sink }) => sink.chunks.length)
    await hub.publish(['news', 'news/today'], { headline: 'x' }, { event: 'story' })
    const frames = sessions.map(({ sink }, i) => sink.chunks.slice(before[i]))
    for (const written of frames) expect(written).toHaveLength(1)
    for (const written of frames) expect(written[0]).toBe(frames[0]![0])
    expect(sessions[0]!.sink.events().at(-1)).toMatchObject({
      type: 'story',
      data: '{"headline":"x"}',
    })
  })

  test('selectors added and removed while connected take effect at once', async () => {
    const hub = createHub()
    const { sink, session } = openSession()
    const subscription = hub.subscribe(session, 'a')
    await subscription.ready
    await hub.publish('b', 'b before')
    await subscription.add(['b', 'c/*'])
    await hub.publish('b', 'b after')
    await hub.publish('c/1', 'c1')
    subscription.remove('b')
    await hub.publish('b', 'b removed')
    await hub.publish('a', 'a still')
    expect(data(sink.events())).toEqual(['b after', 'c1', 'a still'])
    expect([...subscription.selectors]).toEqual(['a', 'c/*'])
  })

  test('a session that closes leaves the hub and its shards are no longer followed', async () => {
    const engine = shardedEngine({ shards: 4 })
    let following = 0
    const follow = engine.follow.bind(engine)
    engine.follow = (shard, handlers) => {
      following++
      const inner = follow(shard, handlers)
      const stop = (): void => {
        following--
        inner.stop()
      }
      return { ready: inner.ready, stop }
    }
    const hub = createHub({ engine })
    const sessions = Array.from({ length: 20 }, () => openSession())
    for (const [i, { session }] of sessions.entries())
      hub.subscribe(session, [`users/${i}`, 'all/**'])
    expect(hub.size).toBe(20)
    expect(following).toBe(4)
    for (const { sink } of sessions) sink.disconnect()
    expect(hub.size).toBe(0)
    expect(following).toBe(0)
    await hub.publish('users/3', 'nobody')
    for (const { sink } of sessions) expect(sink.events()).toEqual([])
  })

  test('a session of another implementation (no internal hooks) leaves each of its hubs when its signal aborts', async () => {
    const { session, sink } = openSession()
    // The same session seen only through the public interface: no symbol-keyed hooks.
    const foreign = new Proxy(session, {
      get(target, key) {
        if (typeof key === 'symbol') return undefined
        const value = Reflect.get(target, key, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const first = createHub()
    const second = createHub()
    const left = first.subscribe(foreign, 'a')
    second.subscribe(foreign, 'a')
    expect([first.size, second.size]).toEqual([1, 1])
    // Leaving one hub removes only that hub's listener.
    left.unsubscribe()
    expect([first.size, second.size]).toEqual([0, 1])
    sink.disconnect()
    expect([first.size, second.size]).toEqual([0, 0])
    await second.publish('a', 'after')
    expect(data(sink.events())).toEqual([])
  })

  test('an event to topics on several shards reaches a session once, live and on replay', async () => {
    const engine = shardedEngine({ shards: 4 })
    const hub = createHub({ engine })
    const [t1, t2, t3] = topicsOnDistinctShards(engine, 3) as [string, string, string]
    const live = openSession()
    await hub.subscribe(live.session, [t1, t2, t3]).ready
    const resumeFrom = lastIdOf(live.sink)
    await hub.publish([t1, t2, t3], 'everywhere')
    await hub.publish([t3, t2], 'two')
    expect(data(live.sink.events())).toEqual(['everywhere', 'two'])
    const again = openSession(resumeFrom)
    await hub.subscribe(again.session, [t1, t2, t3]).ready
    expect(data(again.sink.events())).toEqual(['everywhere', 'two'])
  })
})

describe('bad input', () => {
  test('invalid selectors throw a TypeError at subscribe; nothing is subscribed', () => {
    const hub = createHub({ maxSelectors: 3 })
    const bad: unknown[] = [
      '',
      'a//b',
      '/a',
      'a/',
      'a\nb',
      'a\u0000',
      'x'.repeat(257),
      '**/a',
      'a/b*',
      42,
      ['a', 'b', 'c', 'd'],
    ]
    for (const selectors of bad) {
      const { session } = openSession()
      expect(() => hub.subscribe(session, selectors as string), String(selectors)).toThrow(
        TypeError,
      )
    }
    expect(hub.size).toBe(0)
  })

  test('subscribing a session twice is a TypeError; add past maxSelectors too', async () => {
    const hub = createHub({ maxSelectors: 2 })
    const { session } = openSession()
    const subscription = hub.subscribe(session, 'a')
    expect(() => hub.subscribe(session, 'b')).toThrow(TypeError)
    expect(() => subscription.add(['b', 'c'])).toThrow(/maxSelectors/)
    await subscription.add('b')
    expect([...subscription.selectors]).toEqual(['a', 'b'])
  })

  test('misuse (invalid topics) throws a TypeError at publish; bad data rejects with an SseError and publishes nothing', async () => {
    const hub = createHub({ maxTopicsPerEvent: 2 })
    for (const topics of ['', 'a/*', 'a\rb', [], ['a', 'b', 'c'], 7]) {
      expect(() => hub.publish(topics as string, 'x'), JSON.stringify(topics)).toThrow(TypeError)
    }
    const { session, sink } = openSession()
    await hub.subscribe(session, 'a').ready
    await expect(hub.publish('a', 'x', { event: 'bad\nevent' })).rejects.toMatchObject({
      code: 'SSE_INVALID_FIELD',
    })
    await expect(hub.publish('a', undefined)).rejects.toMatchObject({ code: 'SSE_INVALID_DATA' })
    await expect(hub.publish('a', 10n)).rejects.toBeInstanceOf(SseError)
    await hub.publish('a', 'fine')
    expect(sink.events().map((e) => e.data)).toEqual(['fine'])
  })

  test('a failing engine append rejects the publish with SSE_STORE', async () => {
    const engine = createMemoryEngine()
    const hub = createHub({
      engine: {
        ...engine,
        append: () => Promise.reject(new Error('down')),
      },
    })
    await expect(hub.publish('a', 'x')).rejects.toMatchObject({ code: 'SSE_STORE' })
  })

  test('subscribing to a closed hub closes the session instead of throwing', () => {
    const hub = createHub()
    hub.close()
    const { sink, session } = openSession()
    hub.subscribe(session, 'a')
    expect(sink.closed).toBe(true)
    expect(hub.size).toBe(0)
    expect(() => hub.publish('a', 'x')).toThrow(TypeError)
  })
})

describe('resume with one Last-Event-ID', () => {
  test('a new subscription gets an id at once, so a reconnect before any event resumes', async () => {
    const hub = createHub()
    const first = openSession()
    await hub.subscribe(first.session, 'news').ready
    expect(first.sink.events()).toEqual([])
    const id = lastIdOf(first.sink)
    expect(id).toMatch(/^0:/)
    first.sink.disconnect()
    await hub.publish('news', 'while away')
    const second = openSession(id)
    await hub.subscribe(second.session, 'news').ready
    expect(data(second.sink.events())).toEqual(['while away'])
  })

  test('every topic of a connection resumes, across shards, nothing lost or twice', async () => {
    const engine = shardedEngine({ shards: 4 })
    const hub = createHub({ engine })
    const topics = topicsOnDistinctShards(engine, 4)
    const first = openSession()
    await hub.subscribe(first.session, topics).ready
    for (const topic of topics) await hub.publish(topic, `${topic} 1`)
    const id = lastIdOf(first.sink)
    expect(id.split(',')).toHaveLength(4)
    first.sink.disconnect()
    for (const topic of topics) await hub.publish(topic, `${topic} 2`)
    await hub.publish('elsewhere', 'not mine')
    const second = openSession(id)
    await hub.subscribe(second.session, topics).ready
    await hub.publish(topics[0]!, 'live')
    expect(data(second.sink.events()).sort()).toEqual(
      [...topics.map((topic) => `${topic} 2`), 'live'].sort(),
    )
    expect(data(second.sink.events()).at(-1)).toBe('live')
  })

  test('replay obeys the selectors of the new subscription, never the old ones', async () => {
    const engine = shardedEngine({ shards: 4 })
    const hub = createHub({ engine })
    const first = openSession()
    await hub.subscribe(first.session, ['users/1', 'users/2', 'orders/*']).ready
    const id = lastIdOf(first.sink)
    first.sink.disconnect()
    await hub.publish('users/1', 'u1')
    await hub.publish('users/2', 'u2')
    await hub.publish('orders/9', 'o9')
    await hub.publish(['users/2', 'orders/1'], 'u2+o1')
    // The application now allows less: users/1 only (authorization changed).
    const second = openSession(id)
    await hub.subscribe(second.session, ['users/1', 'orders/*']).ready
    expect(data(second.sink.events())).toEqual(['u1', 'o9', 'u2+o1'])
  })

  test('forged ids never replay anything and get a resync: other shards, the future, garbage', async () => {
    const engine = shardedEngine({ shards: 2 })
    const hub = createHub({ engine })
    const gaps: GapInfo[] = []
    const probe = openSession()
    await hub.subscribe(probe.session, ['secret/**', 'mine']).ready
    const real = lastIdOf(probe.sink)
    await hub.publish('secret/a', 'secret')
    const [zero, one] = real.split(',') as [string, string]
    const forged = [
      'garbage',
      `${zero},${zero}`,
      `7:${zero.slice(2)}`,
      `${zero.replace(/-\d+$/, '-999')},${one}`,
      `${zero.replace(/^0:[^-]+/, '0:zzzz')},${one}`,
      `${zero},${one},${zero}`,
      'x'.repeat(1000),
      `${zero}`.replace('0:', '00:'),
    ]
    const gapHub = createHub({ engine, onGap: (_s, gap) => gaps.push(gap) })
    for (const id of forged) {
      const { sink, session } = openSession(id)
      await gapHub.subscribe(session, 'mine').ready
      const events = sink.events()
      expect(
        events.map((event) => event.type),
        id,
      ).toEqual(['resync'])
      expect(JSON.parse(events[0]!.data)).toEqual({ lastEventId: id, reason: 'unknown' })
    }
    expect(gaps.map((gap) => gap.reason)).toEqual(forged.map(() => 'unknown'))
    expect(data(probe.sink.events())).toEqual(['secret'])
  })

  test('an expired id gets resync with reason expired, and its id resumes from now', async () => {
    const hub = createHub({ engine: createMemoryEngine({ maxEvents: 2 }) })
    const first = openSession()
    await hub.subscribe(first.session, 'a').ready
    const id = lastIdOf(first.sink)
    first.sink.disconnect()
    for (let i = 0; i < 5; i++) await hub.publish('a', String(i))
    const second = openSession(id)
    await hub.subscribe(second.session, 'a').ready
    expect(second.sink.events()).toMatchObject([
      { type: 'resync', data: JSON.stringify({ lastEventId: id, reason: 'expired' }) },
    ])
    const third = openSession(lastIdOf(second.sink))
    await hub.subscribe(third.session, 'a').ready
    await hub.publish('a', 'next')
    expect(data(third.sink.events())).toEqual(['next'])
  })

  test('a failing history read is reported and the client gets resync with reason error', async () => {
    const errors: SseError[] = []
    let fail = false
    const engine = shardedEngine({ shards: 2, failRead: () => fail })
    const hub = createHub({ engine, onError: (error) => errors.push(error) })
    const first = openSession()
    await hub.subscribe(first.session, 'a').ready
    fail = true
    const second = openSession(lastIdOf(first.sink))
    await hub.subscribe(second.session, 'a').ready
    expect(second.sink.events().map((event) => event.type)).toEqual(['resync'])
    expect(JSON.parse(second.sink.events()[0]!.data).reason).toBe('error')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'SSE_STORE' })
    await hub.publish('a', 'live still works')
    expect(data(second.sink.events()).at(-1)).toBe('live still works')
  })

  test('an engine reset sends resync to the live sessions of that shard only', async () => {
    const engine = shardedEngine({ shards: 2 })
    const hub = createHub({ engine })
    const [t0, t1] = topicsOnDistinctShards(engine, 2) as [string, string]
    const on0 = openSession()
    const on1 = openSession()
    await hub.subscribe(on0.session, t0).ready
    await hub.subscribe(on1.session, t1).ready
    engine.resetShard(engine.shardOf(t0))
    expect(on0.sink.events().map((event) => JSON.parse(event.data).reason)).toEqual(['reset'])
    expect(on1.sink.events()).toEqual([])
  })

  test('live events held during a slow replay past maxReplayBufferBytes close the session', async () => {
    let release: () => void = () => undefined
    const engine = shardedEngine({
      shards: 1,
      beforeRead: () => new Promise<void>((resolve) => (release = resolve)),
    })
    const hub = createHub({ engine, maxReplayBufferBytes: 1000 })
    const first = openSession()
    await hub.subscribe(first.session, 'a').ready
    const second = openSession(lastIdOf(first.sink))
    const subscription = hub.subscribe(second.session, 'a')
    for (let i = 0; i < 20; i++) await hub.publish('a', 'x'.repeat(100))
    expect(second.sink.closed).toBe(true)
    release()
    await subscription.ready
    expect(hub.size).toBe(1)
  })
})

describe('exactly once across reconnects (property)', () => {
  const topicPool = ['a', 'b', 'c/1', 'c/2', 'd/x/y', 'e']
  const selectors = ['a', 'c/*', 'd/**']
  const matches = (topics: string[]): boolean =>
    topics.some((t) => t === 'a' || /^c\/[^/]+$/.test(t) || t.startsWith('d/'))

  test('two processes with lagging delivery, publishes during slow replays, reconnects to either: every matching event once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant('publish' as const),
              via: fc.integer({ min: 0, max: 1 }),
              topics: fc.subarray(topicPool, { minLength: 1, maxLength: 3 }),
            }),
            fc.record({
              op: fc.constant('reconnect' as const),
              to: fc.integer({ min: 0, max: 1 }),
            }),
            fc.record({ op: fc.constant('release' as const) }),
            fc.record({ op: fc.constant('flush' as const), of: fc.integer({ min: 0, max: 1 }) }),
          ),
          { maxLength: 40 },
        ),
        fc.integer({ min: 1, max: 4 }),
        async (ops, shardCount) => {
          const pending: Array<() => void> = []
          const shared = shardedEngine({
            shards: shardCount,
            maxEvents: 10_000,
            beforeRead: () => new Promise<void>((resolve) => pending.push(resolve)),
          })
          const engines = [shared.lagging(), shared.lagging()] as const
          const hubs = engines.map((engine) => createHub({ engine }))
          // One more client per process, subscribed to everything, so each
          // process keeps following every shard and its delivery really lags.
          const bystanders = hubs.map((hub) => {
            const bystander = openSession()
            hub.subscribe(bystander.session, '**')
            return bystander
          })
          const expected: string[] = []
          const received: string[] = []
          let current = openSession()
          let subscription = hubs[0]!.subscribe(current.session, selectors)
          const settle = async (): Promise<void> => {
            let settled = false
            void subscription.ready.then(() => (settled = true))
            while (!settled) {
              for (const release of pending.splice(0)) release()
              for (const engine of engines) engine.flush()
              await new Promise((resolve) => setImmediate(resolve))
            }
          }
          await settle()
          const collect = (): void => {
            for (const event of current.sink.events()) {
              expect(event.type).toBe('message')
              received.push(event.data)
            }
          }
          let n = 0
          let lastId = ''
          const labels: string[] = []
          for (const step of ops) {
            if (step.op === 'publish') {
              const label = `${n++}:${step.topics.join('+')}`
              labels.push(label)
              if (matches(step.topics)) expected.push(label)
              await hubs[step.via]!.publish(step.topics, label)
            } else if (step.op === 'reconnect') {
              collect()
              // As EventSource does: the last id seen on any connection so far.
              lastId = lastIdOf(current.sink) || lastId
              current.sink.disconnect()
              current = openSession(lastId)
              subscription = hubs[step.to]!.subscribe(current.session, selectors)
            } else if (step.op === 'flush') {
              engines[step.of]!.flush()
            } else {
              for (const release of pending.splice(0)) release()
              await new Promise((resolve) => setImmediate(resolve))
            }
          }
          await settle()
          for (const engine of engines) engine.flush()
          collect()
          expect(received).toHaveLength(new Set(received).size)
          expect([...received].sort()).toEqual([...expected].sort())
          // Order holds within a shard's log; an event published to topics
          // on several shards is ordered against the others by the engine's
          // clock only, so the check is per topic over single-topic events.
          for (const topic of topicPool) {
            const order = (list: string[]) => list.filter((label) => label.split(':')[1] === topic)
            expect(order(received)).toEqual(order(expected))
          }
          for (const { sink } of bystanders) {
            expect(data(sink.events())).toEqual(labels)
          }
          for (const hub of hubs) hub.close()
        },
      ),
      { numRuns: 300 },
    )
  })
})
