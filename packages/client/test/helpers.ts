import type { IncomingMessage, ServerResponse } from 'node:http'
import { type ScriptedServer, type SeenRequest, startServer as start } from '@sse/test-utils'

export { openStream, type SeenRequest, until } from '@sse/test-utils'
export type TestServer = ScriptedServer

/** The shared scripted server, with the `(req, res, seen)` handler these tests use. */
export function startServer(
  handler: (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void,
): Promise<TestServer> {
  return start((seen, req) => handler(req, seen.res, seen))
}
