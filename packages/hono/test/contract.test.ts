import { createServer as createH2cServer, createSecureServer } from 'node:http2'
import { createAdaptorServer } from '@hono/node-server'
import { sse } from '@sse/hono'
import {
  type AdapterUnderTest,
  CORS_ORIGIN,
  listen,
  MIDDLEWARE_HEADER,
  type NodeServer,
  runAdapterContract,
  tls,
} from '@sse/test-utils'
import { Hono } from 'hono'
import { compress } from 'hono/compress'
import { cors } from 'hono/cors'

const adapter: AdapterUnderTest = {
  name: '@sse/hono',
  http2: ['h2c', 'h2'],
  // @hono/node-server writes one chunk to an HTTP/2 stream and waits for it
  // to drain (several turns over TLS): see the README's HTTP/2 section.
  http2BurstOptions: { highWaterMark: 512 * 1024 },
  async start(routes, { compression, http2 }) {
    const app = new Hono()
    app.use(async (c, next) => {
      c.header(MIDDLEWARE_HEADER, 'kept')
      await next()
    })
    app.use(cors({ origin: CORS_ORIGIN }))
    if (compression) app.use(compress())
    for (const route of routes) {
      app.get(route.path, sse(route.handler, route.options))
    }

    // @hono/node-server picks the server through `createServer`/`serverOptions`.
    const server = createAdaptorServer(
      http2 === 'h2c'
        ? { fetch: app.fetch, createServer: createH2cServer }
        : http2 === 'h2'
          ? { fetch: app.fetch, createServer: createSecureServer, serverOptions: tls }
          : { fetch: app.fetch },
    )
    return listen(server as NodeServer)
  },
}

runAdapterContract(adapter)
