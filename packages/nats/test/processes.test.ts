import { resolve } from 'node:path'
import { runProcessSuite } from '@sse/test-utils/process-suite'
import { serverGroup } from '@sse/test-utils/server-process'
import { afterAll } from 'vitest'
import { admin, describeNats, NATS_URL, testNatsAnswers, uniqueStream } from './helpers'

// The process suite every distributed engine runs (two server processes
// with clients on both; kill -9 of one, its clients resuming on the other),
// on the local NATS: its own stream, deleted afterwards.

testNatsAnswers()

describeNats('server processes on NATS JetStream', () => {
  const { stream, subjectPrefix } = uniqueStream()
  afterAll(async () => {
    const { nc, jsm } = await admin()
    await jsm.streams.delete(stream).catch(() => false)
    await nc.close()
  })
  runProcessSuite(
    serverGroup(
      () => ({ ENGINE: 'nats', NATS_URL, STREAM: stream, SUBJECT_PREFIX: subjectPrefix }),
      resolve(import.meta.dirname, '..'),
    ),
  )
})
