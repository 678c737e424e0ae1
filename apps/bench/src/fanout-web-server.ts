/**
 * One fan-out contender's server on Bun or Deno, where the Web binding is the
 * native path: `fanout.ts` bundles this file into one ESM file (as a user's
 * bundler would) and runs `bun fanout-web-server.mjs <contender>` or `deno
 * run -A --v8-flags=--expose-gc fanout-web-server.mjs <contender>`, speaking
 * the same IPC messages as `fanout-server.ts` (both runtimes implement
 * Node's `process.send`).
 *
 * Contenders: ours, core's `sse()` Web handler with a core hub, served by
 * `Bun.serve` or `Deno.serve`; and that runtime's Web floor, one bare
 * `ReadableStream` per connection with each broadcast's bytes enqueued to
 * every stream. The runtime's server writes what a stream yields to its
 * socket; no socket is visible from here, so this server does no pacing of
 * its own: the case it serves goes one event at a time, the parent waiting
 * until every client has an event before the next is published.
 */
import process from 'node:process'
import { sse } from '@sse/core'
import { hubContender } from './fanout-hub'
import {
  answerCommands,
  bareStreams,
  isContender,
  listening,
  reportFailures,
  runtimeOf,
  type ServedContender,
} from './fanout-shared'

reportFailures()

type Fetch = (request: Request) => Response
interface Runtime {
  Bun?: {
    serve(options: { hostname: string; port: number; idleTimeout: number; fetch: Fetch }): {
      port: number
    }
    gc(force: boolean): void
  }
  Deno?: {
    serve(
      options: { hostname: string; port: number; onListen(address: { port: number }): void },
      handler: Fetch,
    ): unknown
  }
  gc?: () => void
}
const runtime = globalThis as unknown as Runtime

interface Contender extends ServedContender {
  fetch: Fetch
}

function ours(): Contender {
  const contender = hubContender(sse)
  return { ...contender, fetch: contender.handler }
}

const id = process.argv[2]
if (!isContender(id) || runtimeOf(id) === 'node') {
  throw new Error(`fanout-web-server: no contender ${id} on Bun or Deno`)
}
const on = runtimeOf(id)
// Bun completes a streaming response's head only with the body's first
// chunk: a comment opens each floor stream, on Deno too so that both floors
// do the same (ours opens with its subscription's position), and the client
// sees the head at once.
const contender = id.endsWith('-floor') ? bareStreams(new TextEncoder().encode(':\n\n')) : ours()

answerCommands(contender, {
  collect() {
    if (runtime.Bun !== undefined) runtime.Bun.gc(true)
    else runtime.gc?.()
  },
  pace: () => new Promise((resolve) => setTimeout(resolve, 0)),
  exit: () => process.exit(0),
})

if (on === 'bun') {
  // idleTimeout 0: an event stream stays open (Bun's default closes it after 10 s).
  const server = runtime.Bun!.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    fetch: contender.fetch,
  })
  listening(server.port)
} else {
  runtime.Deno!.serve(
    { hostname: '127.0.0.1', port: 0, onListen: ({ port }) => listening(port) },
    contender.fetch,
  )
}
