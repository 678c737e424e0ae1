import { sse } from '@sse/hono'
import { Hono } from 'hono'

const app = new Hono()

// Timers start inside the handler (Workers allow none in global scope) and
// stop when the client leaves.
app.get(
  '/clock',
  sse((session) => {
    const timer = setInterval(() => session.send({ now: Date.now() }, { event: 'tick' }), 250)
    session.signal.addEventListener('abort', () => clearInterval(timer))
  }),
)

// Bun, Deno and Cloudflare Workers serve the default export's fetch.
export default app
