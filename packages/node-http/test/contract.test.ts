import http from 'node:http'
import http2 from 'node:http2'
import { sse } from '@sse/node-http'
import {
  type AdapterUnderTest,
  CORS_ORIGIN,
  listen,
  MIDDLEWARE_HEADER,
  runAdapterContract,
  tls,
} from '@sse/test-utils'

// node:http has no middleware or compression of its own: the "middleware"
// is code that sets headers before the stream opens.
const adapter: AdapterUnderTest = {
  name: '@sse/node-http',
  http2: ['h2c', 'h2'],
  async start(routes, { http2: mode }) {
    const mounted = new Map(routes.map((r) => [r.path, sse(r.handler, r.options)]))
    const listener = (
      req: http.IncomingMessage | http2.Http2ServerRequest,
      res: http.ServerResponse | http2.Http2ServerResponse,
    ) => {
      const out = res as http.ServerResponse
      out.setHeader(MIDDLEWARE_HEADER, 'kept')
      if (req.headers.origin === CORS_ORIGIN)
        out.setHeader('access-control-allow-origin', CORS_ORIGIN)
      const route = mounted.get(new URL(req.url ?? '/', 'http://x').pathname)
      if (route === undefined) out.writeHead(404).end()
      else route(req, res)
    }
    const server =
      mode === 'h2c'
        ? http2.createServer(listener)
        : mode === 'h2'
          ? http2.createSecureServer({ ...tls }, listener)
          : http.createServer(listener)
    return listen(server)
  },
}

runAdapterContract(adapter)
