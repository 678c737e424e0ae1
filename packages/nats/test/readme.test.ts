import { createResponse, readEvents } from '@sse/core'
import { readmeExamples } from '@sse/test-utils/docs'
import { expect, test } from 'vitest'
import { admin, describeNats, NATS_URL, testNatsAnswers, uniqueStream } from './helpers'

testNatsAnswers()

test('every README code block is an example file; the install line names what it imports', () => {
  expect(readmeExamples(process.cwd()).map((e) => e.file)).toEqual(['examples/hub.ts'])
})

describeNats('examples/hub.ts', () => {
  test('a hub on the configured stream delivers what it publishes', async () => {
    const { stream, subjectPrefix } = uniqueStream()
    Object.assign(process.env, { NATS_URL, SSE_STREAM: stream, SSE_SUBJECT_PREFIX: subjectPrefix })
    const { engine, hub } = await import('../examples/hub')
    try {
      const response = createResponse(new Request('http://localhost/'), (session) =>
        hub.subscribe(session, 'news').ready.then(() => hub.publish('news', 'over NATS')),
      )
      const events = await readEvents(response, { count: 1 })
      expect(events.map((e) => e.data)).toEqual(['over NATS'])
    } finally {
      hub.close()
      await engine.close()
      const { nc, jsm } = await admin()
      await jsm.streams.delete(stream).catch(() => false)
      await nc.close()
    }
  })
})
