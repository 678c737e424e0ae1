// Subpaths: the package index loads TLS fixtures from disk, which a happy-dom page cannot.
import {
  type ScriptedServer,
  type SeenRequest,
  startServer as start,
} from '@sse/test-utils/scripted-server'

export { openStream, type SeenRequest } from '@sse/test-utils/scripted-server'
export { until } from '@sse/test-utils/until'
export type TestServer = ScriptedServer

/** The shared scripted server; the page (happy-dom) is on another origin, so it answers CORS. */
export function startServer(handler: (seen: SeenRequest) => void): Promise<TestServer> {
  return start(handler, { cors: true })
}
