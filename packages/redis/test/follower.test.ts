import type { ShardEvent } from '@sse/core'
import { describe, expect, test } from 'vitest'
import { ShardFollower, type ShardSource } from '../src/follower'
import { encodePayload } from '../src/payload'
import { compareIds, previousId, toPosition } from '../src/positions'
import type { ReadOutcome } from '../src/read'
import type { Entry } from '../src/replies'
import { until } from './helpers'

// The follower's rules (src/follower.ts) against a scripted log: no Redis,
// every interleaving chosen by the test.

/** A fake shard: its log, and the follower's view of it. */
function harness(log: string[] = []) {
  const seen: string[] = []
  const resets: string[] = []
  const reads: string[] = []
  const reports: string[] = []
  let subscribed: (() => void) | undefined
  const source: ShardSource = {
    subscribe: () =>
      new Promise<void>((resolve) => {
        subscribed = resolve
      }),
    lastId: async () => log.at(-1) ?? '0-0',
    async readAfter(from, onPage): Promise<ReadOutcome> {
      reads.push(from)
      // As read.ts judges it: the origin, an entry, or the id just before
      // the first retained one resume; older than that is trimmed away.
      const index = log.indexOf(from)
      const first = log[0]
      if (index === -1 && from !== '0-0' && (first === undefined || previousId(first) !== from)) {
        const older = first !== undefined && compareIds(from, first) < 0
        return {
          gap: true,
          reason: older ? 'expired' : 'unknown',
          lastId: log.at(-1) ?? '0-0',
          resumeFrom: older ? previousId(first) : undefined,
        }
      }
      const entries: Entry[] = log.slice(index + 1).map((id) => ({ id, payload: payload(id) }))
      if (entries.length > 0) onPage(entries)
      return { gap: false }
    },
    report: (message) => reports.push(message),
  }
  const follower = new ShardFollower(0, source)
  const following = follower.add(
    {
      event: (event: ShardEvent) => seen.push(JSON.parse(event.data) as string),
      reset: (position) => resets.push(position),
    },
    () => follower.stop(),
  )
  return {
    follower,
    following,
    log,
    seen,
    resets,
    reads,
    reports,
    subscribe: () => subscribed!(),
    /** Appends to the log and returns the live message for it. */
    append(id: string) {
      const prev = log.at(-1) ?? '0-0'
      log.push(id)
      return { prev, id, payload: payload(id) }
    },
  }
}

/** A harness whose follower is subscribed and ready. */
async function live(log?: string[]) {
  const h = harness(log)
  h.subscribe()
  await h.following.ready
  return h
}

function payload(id: string): string {
  return encodePayload({ topics: ['t'], data: JSON.stringify(id) })
}

describe('ShardFollower', () => {
  test('starts at the log’s last id once subscribed; earlier messages are dropped, later ones kept', async () => {
    const h = harness(['1-0', '2-0'])
    const before = h.append('3-0')
    h.follower.message(before)
    h.subscribe()
    expect(await h.following.ready).toBe(toPosition('3-0'))
    h.follower.message(h.append('4-0'))
    await until(() => h.seen.length === 1, 'the event after the start')
    expect(h.seen).toEqual(['4-0'])
  })

  test('a message queued between subscribing and reading the start is delivered after ready', async () => {
    const h = harness(['1-0'])
    let readyAt = -1
    h.following.ready.then(() => {
      readyAt = h.seen.length
    })
    h.subscribe()
    // Published after the subscription, before the start position is read.
    const during = h.append('2-0')
    h.follower.message(during)
    await h.following.ready
    await until(() => h.seen.length === 0 || readyAt !== -1, 'ready')
    expect(readyAt).toBe(0)
    // The start is the log's last id (2-0): that message predates it.
    expect(h.seen).toEqual([])
    h.follower.message(h.append('3-0'))
    await until(() => h.seen.length === 1, 'the next event')
    expect(h.seen).toEqual(['3-0'])
  })

  test('a duplicate is dropped; a hole is filled from the log, in order, once', async () => {
    const h = await live()
    const first = h.append('1-0')
    h.follower.message(first)
    h.follower.message(first)
    h.append('2-0') // lost on the way
    h.append('3-0') // lost on the way
    const fourth = h.append('4-0')
    h.follower.message(fourth)
    const fifth = h.append('5-0')
    h.follower.message(fifth)
    h.follower.message(fourth)
    await until(() => h.seen.length === 5, 'five events')
    expect(h.seen).toEqual(['1-0', '2-0', '3-0', '4-0', '5-0'])
    expect(h.reads).toEqual(['1-0'])
    expect(h.resets).toEqual([])
  })

  test('events it delivered gone from the log (prev < cursor < id): reset to prev, then the event', async () => {
    const h = await live()
    h.follower.message(h.append('1-0'))
    h.follower.message(h.append('2-0'))
    // A failover to a replica that only had 1-0.
    h.log.splice(1)
    h.follower.message(h.append('3-0'))
    await until(() => h.seen.length === 3, 'the event after the failover')
    expect(h.resets).toEqual([toPosition('1-0')])
    expect(h.seen).toEqual(['1-0', '2-0', '3-0'])
  })

  test('the same id with another prev is a rewound log: reset, then the event', async () => {
    const h = await live()
    h.follower.message(h.append('1-0'))
    h.follower.message(h.append('1-1'))
    h.log.splice(0)
    h.log.push('0-5')
    h.follower.message({ prev: '0-5', id: '1-1', payload: payload('other') })
    await until(() => h.seen.length === 3, 'the rewritten event')
    expect(h.resets).toEqual([toPosition('0-5')])
    expect(h.seen).toEqual(['1-0', '1-1', 'other'])
  })

  test('check: a log ahead is caught up, a log behind (lost data, no later message) resets', async () => {
    const h = await live()
    h.follower.message(h.append('1-0'))
    h.append('2-0') // its message was lost, and nothing follows
    h.follower.check()
    await until(() => h.seen.length === 2, 'the lost event from the log')
    expect(h.seen).toEqual(['1-0', '2-0'])
    h.log.splice(0) // Redis restarted without persistence
    h.follower.check()
    await until(() => h.resets.length === 1, 'the reset')
    expect(h.resets).toEqual([toPosition('0-0')])
    // Publishing goes on in the new log.
    h.follower.message(h.append('5-0'))
    expect(h.seen).toEqual(['1-0', '2-0', '5-0'])
  })

  test('catching up from a cursor the log never had resets to the log’s end', async () => {
    const h = await live()
    h.follower.message(h.append('1-0'))
    // A restart without persistence, then two appends; only the second's message arrives.
    h.log.splice(0, h.log.length, '0-9', '2-0', '3-0')
    h.follower.message({ prev: '2-0', id: '3-0', payload: payload('3-0') })
    await until(() => h.resets.length === 1, 'the reset')
    // The hole is read from the log, which never had 1-0: what came since
    // cannot be told apart, so followers resync at the log's end.
    expect(h.reads).toEqual(['1-0'])
    expect(h.resets).toEqual([toPosition('3-0')])
    expect(h.seen).toEqual(['1-0'])
    h.follower.message(h.append('4-0'))
    expect(h.seen).toEqual(['1-0', '4-0'])
  })

  test('catching up from a cursor trimmed away: reset to just before what the log keeps, then all of it', async () => {
    const h = await live()
    h.follower.message(h.append('1-0'))
    // Three appends this follower never heard of, then trimming to the last two.
    for (const id of ['2-0', '3-0', '4-0']) h.append(id)
    h.log.splice(0, 2)
    h.follower.message(h.append('5-0'))
    await until(() => h.seen.length === 4, 'what the log kept')
    // 2-0 is gone, so followers resync; 3-0 onwards were kept, so they come,
    // in order, once (5-0's message is a duplicate of its read by then).
    expect(h.reads).toEqual(['1-0', '2-18446744073709551615'])
    expect(h.resets).toEqual([toPosition('2-18446744073709551615')])
    expect(h.seen).toEqual(['1-0', '3-0', '4-0', '5-0'])
    h.follower.message(h.append('6-0'))
    expect(h.seen).toEqual(['1-0', '3-0', '4-0', '5-0', '6-0'])
  })

  test('the oldest entry kept, read after trimming, then heard live with its trimmed prev: a duplicate, not a rewind', async () => {
    const h = await live()
    h.follower.message(h.append('1-0'))
    h.append('2-0')
    const [m3, m4, m5] = [h.append('3-0'), h.append('4-0'), h.append('5-0')]
    h.log.splice(0, 3)
    // 2-0 was never heard, so 3-0 starts a catch-up; 4-0 and 5-0 wait behind it.
    for (const message of [m3, m4, m5]) h.follower.message(message)
    await until(() => h.seen.length >= 3, 'what the log kept')
    h.follower.message(h.append('6-0'))
    // 4-0 came from the log, remembered without its trimmed prev (3-0):
    // its live message must not look like a rewound log (reset to 3-0 and
    // 4-0, 5-0 again, as before).
    expect(h.seen).toEqual(['1-0', '4-0', '5-0', '6-0'])
    expect(h.resets).toEqual([toPosition('3-18446744073709551615')])
  })

  test('stop before the start: ready rejects with SSE_STORE, no one hangs', async () => {
    const h = harness()
    h.following.stop()
    await expect(h.following.ready).rejects.toMatchObject({ code: 'SSE_STORE' })
    h.subscribe()
    h.follower.message(h.append('1-0'))
    expect(h.seen).toEqual([])
  })
})
