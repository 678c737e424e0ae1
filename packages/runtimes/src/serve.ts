/**
 * Serves the contract app on 127.0.0.1, port chosen by the OS, on Bun or
 * Deno, and prints `{"port":N}` on one line once listening.
 */
import { createContractApp } from './contract-app'

const app = createContractApp()
// biome-ignore lint/suspicious/noConsole: the test reads the port from stdout, on any runtime.
const announce = (port: number): void => console.log(JSON.stringify({ port }))
const runtime = globalThis as unknown as {
  Bun?: { serve(options: object): { port: number } }
  Deno?: { serve(options: object, handler: (request: Request) => Promise<Response>): unknown }
}

if (runtime.Bun !== undefined) {
  // idleTimeout 0: an event stream is meant to stay open (Bun's default is 10 s).
  const server = runtime.Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    fetch: app.fetch,
  })
  announce(server.port)
} else if (runtime.Deno !== undefined) {
  runtime.Deno.serve(
    { hostname: '127.0.0.1', port: 0, onListen: ({ port }: { port: number }) => announce(port) },
    app.fetch,
  )
} else {
  throw new Error('serve.ts runs on Bun or Deno; workerd loads worker.ts')
}
