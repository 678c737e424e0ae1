import { createConnectionLimiter } from '@sse/core'
import { sse } from '@sse/express'
import express, { type Express } from 'express'

// At most 10,000 open streams, and 2 per user.
const limiter = createConnectionLimiter({ max: 10_000, maxPerKey: 2, retryAfter: 10 })

export const app: Express = express()
app.get(
  '/feed',
  sse((session, { req }) => session.send({ hello: req.get('x-user-id') }), {
    limit: { limiter, key: ({ req }) => req.get('x-user-id') },
  }),
)
