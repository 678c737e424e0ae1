import { sse } from '@sse/express'
import express, { type Express } from 'express'

// A stand-in for a model's token stream.
async function* tokens(prompt: string): AsyncGenerator<string> {
  for (const word of `You said: ${prompt}`.split(' ')) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    yield word
  }
}

export const app: Express = express()
app.use(express.json())

// Each token is sent when the socket can take it; a client that leaves
// stops the generator.
app.post(
  '/chat',
  sse(async (session, { req }) => {
    await session.pipe(tokens(String(req.body.prompt)), { event: 'token', close: true })
  }),
)
