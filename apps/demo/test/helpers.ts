import { createParser, type ParsedEvent } from '@sse/core'
import { listen } from '@sse/test-utils/servers'
import { createDemo, type Demo, type DemoOptions } from '../src/app'
import { createDemoStore } from '../src/store'

export interface RunningDemo {
  demo: Demo
  url: string
  close(): Promise<void>
}

/** Starts the demo on 127.0.0.1:0, in memory unless `redisUrl` is given. */
export async function startDemo(
  options: Omit<DemoOptions, 'store'> & { redisUrl?: string } = {},
): Promise<RunningDemo> {
  const { redisUrl, ...demoOptions } = options
  const store = await createDemoStore({ redisUrl })
  const demo = createDemo({ store, ...demoOptions })
  const { url } = await listen(demo.server)
  return {
    demo,
    url,
    async close() {
      await demo.close()
      await store.close()
    },
  }
}

/**
 * Reads an event stream with the core parser until `until` returns true (or
 * the stream ends), then cancels it; returns every event read.
 */
export async function readEvents(
  response: Response,
  until: (event: ParsedEvent, all: ParsedEvent[]) => boolean = () => false,
): Promise<ParsedEvent[]> {
  const events: ParsedEvent[] = []
  let done = false
  const parser = createParser({
    onEvent(event) {
      if (done) return
      events.push(event)
      done = until(event, events)
    },
  })
  const reader = response.body!.getReader()
  while (!done) {
    const { value, done: ended } = await reader.read()
    if (ended) break
    parser.feed(value)
  }
  await reader.cancel()
  return events
}

/** Resolves when `condition` holds, polling every 10 ms, or rejects after `timeout` ms. */
export async function waitFor(condition: () => boolean, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
