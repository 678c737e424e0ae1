import { createHub, createSession, type Session, sse } from '@sse/core'
import { expect, test } from 'vitest'
import { memorySink, parseAll } from './fixtures'

// One event map for server and client: the compiler checks names and data.
// Every `@ts-expect-error` below is a check: `tsc` (the typecheck task) fails
// if the line it marks compiles.
type Events = { price: { symbol: string; usd: number }; message: string }

test('a typed hub publishes the events of its map; the compiler refuses the others', async () => {
  const hub = createHub<Events>()
  const sink = memorySink()
  const session = createSession(sink, { heartbeat: false, retry: false })
  await hub.subscribe(session, 'prices').ready
  await hub.publish('prices', { symbol: 'ACME', usd: 1.5 }, { event: 'price' })
  await hub.publish('prices', 'plain text')
  const refused = () => {
    // @ts-expect-error the data of `price` has a `usd`
    void hub.publish('prices', { symbol: 'ACME' }, { event: 'price' })
    // @ts-expect-error no event named `nope`
    void hub.publish('prices', 'x', { event: 'nope' })
    // @ts-expect-error `message` data is a string
    void hub.publish('prices', 42)
  }
  expect(typeof refused).toBe('function')
  expect(sink.events().map((e) => [e.type, e.data])).toEqual([
    ['price', '{"symbol":"ACME","usd":1.5}'],
    ['message', 'plain text'],
  ])
  hub.close()
})

test('a handler typed with Session<Events> sends the events of the map', () => {
  const handler = sse((session: Session<Events>) => {
    session.send({ symbol: 'ACME', usd: 2 }, { event: 'price', id: '1' })
    session.send('hello')
    const refused = () => {
      // @ts-expect-error the data of `price` has a `usd`
      session.send({ symbol: 'ACME' }, { event: 'price' })
      // @ts-expect-error no event named `nope`
      session.send('x', { event: 'nope' })
    }
    expect(typeof refused).toBe('function')
    session.close()
  })
  return handler(new Request('http://localhost/'))
    .text()
    .then((text) => {
      expect(parseAll(text).map((e) => [e.type, e.data])).toEqual([
        ['price', '{"symbol":"ACME","usd":2}'],
        ['message', 'hello'],
      ])
    })
})

test('an untyped hub and session take any event and data, as before', async () => {
  const hub = createHub()
  await hub.publish('anything', { any: 'data' }, { event: 'whatever' })
  await hub.publish('anything', 42)
  const session = createSession(memorySink(), { heartbeat: false })
  expect(session.send({ x: 1 }, { event: 'any' })).toBe(true)
  hub.close()
})
