import { createHub } from '@sse/core'
import { createNatsEngine } from '@sse/nats'

// Every process pointed at the same stream shares one event log.
export const engine = createNatsEngine({
  servers: process.env.NATS_URL,
  stream: process.env.SSE_STREAM ?? 'SSE',
  subjectPrefix: process.env.SSE_SUBJECT_PREFIX ?? 'sse',
})
export const hub = createHub({ engine })
