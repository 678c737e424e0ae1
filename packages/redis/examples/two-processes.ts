// Run this file twice (PORT=3001 and PORT=3002, behind one load balancer):
// a notification POSTed to either process reaches every tab of that user,
// on both, over the one connection each tab keeps for all its topics.
import { createServer } from 'node:http'
import { createHub } from '@sse/core'
import { sse } from '@sse/node-http'
import { createRedisEngine } from '@sse/redis'

const engine = createRedisEngine({
  url: process.env.REDIS_URL,
  onError: (error) => process.stderr.write(`redis: ${error.message}\n`),
})
const hub = createHub({ engine })

// Your authentication goes here (the selectors a session gets are what it
// may read); this example trusts a `?user=` that is a plain word.
function userOf(url: URL): string | undefined {
  const user = url.searchParams.get('user') ?? ''
  return /^\w{1,64}$/.test(user) ? user : undefined
}

// One connection, three audiences; a reconnect to either process resumes all of them.
const events = sse((session, { req }) => {
  const user = userOf(new URL(req.url ?? '/', 'http://localhost'))
  return hub.subscribe(session, [`users/${user}`, 'news', 'rooms/*']).ready
})

export const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const user = userOf(url)
  if (user === undefined) {
    res.writeHead(401).end()
  } else if (req.method === 'POST' && url.pathname === '/notify') {
    // Rejects with SseError `SSE_STORE` when Redis is unreachable.
    hub.publish(`users/${user}`, { at: Date.now() }, { event: 'notification' }).then(
      () => res.end(),
      () => res.writeHead(503).end(),
    )
  } else {
    events(req, res)
  }
})
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1')

process.once('SIGTERM', () => {
  // Stop accepting connections, end every stream (clients reconnect to the
  // other process and resume there), then close the Redis connections.
  server.close()
  hub.close()
  void engine.close()
})
