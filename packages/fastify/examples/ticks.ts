import { fastifySse, sse } from '@sse/fastify'
import Fastify from 'fastify'

async function* ticks(): AsyncGenerator<{ n: number }> {
  for (let n = 1; n <= 3; n++) yield { n }
  throw new Error('the tick source failed')
}

export const app = Fastify()
app.register(fastifySse, { heartbeat: false })
export const failures: unknown[] = []

app.get(
  '/ticks',
  sse(
    async (session) => {
      for await (const tick of ticks()) session.send(tick)
    },
    {
      // The session is closed already (its client reconnects); report the error.
      onError: (error, _session, { request }) => {
        failures.push(error)
        request.log.warn(error)
      },
    },
  ),
)
