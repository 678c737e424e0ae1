import { createServer } from 'node:http'
import { openSession } from '@sse/node-http'

// For code that is handed (req, res), like a hand-written router.
export const server = createServer((req, res) => {
  if (req.url !== '/events') {
    res.writeHead(404).end()
    return
  }
  const session = openSession(req, res, { heartbeat: 30_000 })
  if (session === undefined) return // over the `limit`: answered with 429
  const timer = setInterval(() => session.send({ now: Date.now() }, { event: 'tick' }), 1000)
  session.signal.addEventListener('abort', () => clearInterval(timer))
}).listen(Number(process.env.PORT ?? 3000))
