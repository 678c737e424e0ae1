// The async-iterator queue: every `for await` over a stream gets its own
// buffer of events; when any buffer reaches the high-water mark, reading
// from the network waits (`room()`) until that loop catches up, so memory
// stays bounded and nothing is dropped.
import type { ParsedEvent, SseError } from '@sse/core'

/**
 * How many events an async iterator of an `EventStream` buffers before
 * reading from the network pauses (a fixed bound, not an option).
 *
 * @example
 * ```ts
 * for await (const event of stream) await save(event) // a slow loop pauses the stream, never drops
 * ```
 */
export const ITERATOR_HIGH_WATER_MARK = 1024

interface Consumer {
  readonly queue: ParsedEvent[]
  push(event: ParsedEvent): void
  end(): void
}

export class Iterators {
  readonly #consumers = new Set<Consumer>()
  readonly #failure: () => SseError | undefined
  readonly #leave: () => void
  #roomWaiter: (() => void) | undefined
  #ended = false

  /**
   * `failure`: the error that stopped the stream, for loops to throw once.
   * `leave`: closes the stream (a loop that leaves ends it).
   */
  constructor(failure: () => SseError | undefined, leave: () => void) {
    this.#failure = failure
    this.#leave = leave
  }

  push(event: ParsedEvent): void {
    for (const consumer of this.#consumers) consumer.push(event)
  }

  /** Resolves once every buffer is under the mark; `undefined` when there is room now. */
  room(): Promise<void> | undefined {
    if (!this.#isFull()) return undefined
    return new Promise((resolve) => {
      this.#roomWaiter = resolve
    })
  }

  /** The stream stopped: pending reads finish, and so does the wait for room. */
  end(): void {
    this.#ended = true
    const waiter = this.#roomWaiter
    this.#roomWaiter = undefined
    waiter?.()
    for (const consumer of this.#consumers) consumer.end()
    this.#consumers.clear()
  }

  #isFull(): boolean {
    for (const consumer of this.#consumers) {
      if (consumer.queue.length >= ITERATOR_HIGH_WATER_MARK) return true
    }
    return false
  }

  #checkRoom(): void {
    if (this.#roomWaiter !== undefined && !this.#isFull()) {
      const resolve = this.#roomWaiter
      this.#roomWaiter = undefined
      resolve()
    }
  }

  iterate(): AsyncIterableIterator<ParsedEvent> {
    const queue: ParsedEvent[] = []
    const waiting: Array<{
      resolve: (result: IteratorResult<ParsedEvent>) => void
      reject: (error: unknown) => void
    }> = []
    let thrown = false
    let left = false
    const finish = (
      resolve: (result: IteratorResult<ParsedEvent>) => void,
      reject: (error: unknown) => void,
    ): void => {
      const failure = this.#failure()
      if (failure !== undefined && !thrown && !left) {
        thrown = true
        reject(failure)
      } else resolve({ value: undefined, done: true })
    }
    const consumer: Consumer = {
      queue,
      push(event) {
        const next = waiting.shift()
        if (next === undefined) queue.push(event)
        else next.resolve({ value: event, done: false })
      },
      end() {
        for (const next of waiting.splice(0)) finish(next.resolve, next.reject)
      },
    }
    if (!this.#ended) this.#consumers.add(consumer)
    const iterator: AsyncIterableIterator<ParsedEvent> = {
      next: () => {
        const value = queue.shift()
        if (value !== undefined) {
          this.#checkRoom()
          return Promise.resolve({ value, done: false })
        }
        return new Promise((resolve, reject) => {
          if (this.#ended || left) finish(resolve, reject)
          else waiting.push({ resolve, reject })
        })
      },
      return: () => {
        left = true
        queue.length = 0
        this.#consumers.delete(consumer)
        consumer.end()
        this.#leave()
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator]() {
        return iterator
      },
    }
    return iterator
  }
}
