import { runProcessSuite } from '@sse/test-utils/process-suite'
import { describeRedis, testRedisAnswers, useTarget } from './helpers'
import { serverGroup } from './processes'

// Server processes (@sse/test-utils' engine server: node:http + createHub +
// createRedisEngine) sharing one Redis or one cluster, real HTTP clients on
// each, events published in the processes.

testRedisAnswers()

for (const name of ['redis', 'cluster'] as const) {
  describeRedis(`server processes on ${name === 'redis' ? 'one Redis' : 'a Redis Cluster'}`, () => {
    const on = useTarget(name)
    runProcessSuite(serverGroup(() => on.env()))
  })
}
