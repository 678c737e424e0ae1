import { createResponse } from '@sse/core'

export interface Env {
  GREETING?: string
}

export default {
  // `createResponse` (not `sse()`) because the handler needs `env`.
  fetch(request: Request, env: Env): Response {
    return createResponse(request, (session) => {
      session.send({ greeting: env.GREETING ?? 'hello' }, { event: 'hello' })
      // Timers start inside the handler: Workers allow none in global scope.
      const timer = setInterval(() => session.send({ now: Date.now() }, { event: 'tick' }), 250)
      session.signal.addEventListener('abort', () => clearInterval(timer))
    })
  },
}
