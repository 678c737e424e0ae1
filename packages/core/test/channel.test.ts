import { createChannel, createSession, type Session, SseError } from '@sse/core'
import { describe, expect, test } from 'vitest'
import { type MemorySink, memorySink } from './fixtures'

function open(n: number): Array<{ sink: MemorySink; session: Session }> {
  return Array.from({ length: n }, () => {
    const sink = memorySink()
    return { sink, session: createSession(sink, { retry: false, heartbeat: false }) }
  })
}

describe('membership', () => {
  test('size follows join, leave and close; hooks fire once each', async () => {
    const joined: Session[] = []
    const left: Session[] = []
    const channel = createChannel({
      onJoin: (s) => joined.push(s),
      onLeave: (s) => left.push(s),
    })
    const [a, b, c] = open(3).map((x) => x.session) as [Session, Session, Session]
    await channel.join(a)
    await channel.join(b)
    await channel.join(c)
    await channel.join(c) // twice is once
    expect(channel.size).toBe(3)
    expect(channel.leave(a)).toBe(true)
    expect(channel.leave(a)).toBe(false)
    b.close()
    expect(channel.size).toBe(1)
    expect([...channel.sessions()]).toEqual([c])
    expect(joined).toEqual([a, b, c])
    expect(left).toEqual([a, b])
  })

  test('a closed session does not join', async () => {
    const channel = createChannel()
    const { session } = open(1)[0]!
    session.close()
    await channel.join(session)
    expect(channel.size).toBe(0)
  })

  test('joining a closed channel rejected, crashing a server whose request raced its shutdown; the session is closed instead', async () => {
    const channel = createChannel()
    channel.close()
    const [{ sink, session }] = open(1) as [{ sink: MemorySink; session: Session }]
    await expect(channel.join(session)).resolves.toBeUndefined()
    expect(session.closed).toBe(true)
    expect(sink.closed).toBe(true)
    expect(channel.size).toBe(0)
  })

  test('a session that left explicitly is not removed again when it closes', async () => {
    let leaves = 0
    const channel = createChannel({ onLeave: () => leaves++ })
    const { session } = open(1)[0]!
    await channel.join(session)
    channel.leave(session)
    session.close()
    expect(leaves).toBe(1)
  })
})

describe('broadcast', () => {
  test('every session receives the event', async () => {
    const channel = createChannel()
    const clients = open(3)
    for (const { session } of clients) await channel.join(session)
    const result = await channel.broadcast({ n: 1 }, { event: 'tick', id: '1' })
    expect(result).toEqual({ id: '1', delivered: 3 })
    for (const { sink } of clients) {
      expect(sink.events()).toEqual([{ type: 'tick', data: '{"n":1}', lastEventId: '1' }])
    }
  })

  test('encodes once: one serialization, and the very same bytes object for every session', async () => {
    let serializations = 0
    const channel = createChannel({
      serialize: (v) => {
        serializations++
        return JSON.stringify(v)
      },
    })
    const clients = open(50)
    for (const { session } of clients) await channel.join(session)
    await channel.broadcast({ big: 'x'.repeat(1000) })
    expect(serializations).toBe(1)
    const first = clients[0]!.sink.chunks[0]
    for (const { sink } of clients) expect(sink.chunks[0]).toBe(first)
  })

  test('filter picks the receivers', async () => {
    const channel = createChannel()
    const clients = open(4)
    for (const { session } of clients) await channel.join(session)
    const vip = new Set([clients[1]!.session, clients[3]!.session])
    const result = await channel.broadcast('secret', { filter: (s) => vip.has(s) })
    expect(result.delivered).toBe(2)
    expect(clients.map(({ sink }) => sink.events().length)).toEqual([0, 1, 0, 1])
  })

  test('an untrusted event name throws before anything is written', async () => {
    const channel = createChannel()
    const clients = open(2)
    for (const { session } of clients) await channel.join(session)
    expect(() => channel.broadcast('x', { event: 'a\n\ndata: forged' })).toThrow(SseError)
    expect(clients.every(({ sink }) => sink.chunks.length === 0)).toBe(true)
  })

  test('closed sessions are skipped and not counted as delivered', async () => {
    const channel = createChannel()
    const clients = open(3)
    for (const { session } of clients) await channel.join(session)
    clients[0]!.sink.disconnect()
    expect((await channel.broadcast('x')).delivered).toBe(2)
  })

  test('a slow client is closed by policy while the others keep receiving', async () => {
    const channel = createChannel()
    const fast = open(2)
    const slowSink = memorySink()
    const slow = createSession(slowSink, { retry: false, heartbeat: false, maxQueueBytes: 1024 })
    for (const { session } of fast) await channel.join(session)
    await channel.join(slow)
    slowSink.full = true
    for (let i = 0; i < 200; i++) await channel.broadcast({ i })
    expect(slow.closed).toBe(true)
    expect(channel.size).toBe(2)
    for (const { sink } of fast) {
      expect(sink.events().map((e) => JSON.parse(e.data).i)).toEqual(
        Array.from({ length: 200 }, (_, i) => i),
      )
    }
  })
})
