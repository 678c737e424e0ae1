import { createServer as createH2cServer, createSecureServer } from 'node:http2'
import { createAdaptorServer } from '@hono/node-server'
import { sse as webSse } from '@sse/hono'
import { sse as nodeSse } from '@sse/hono/node'
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

/** Hono on @hono/node-server with the `sse` of one entry point. */
const honoOnNode = (
  name: string,
  sse: typeof webSse,
  http2BurstOptions?: AdapterUnderTest['http2BurstOptions'],
): AdapterUnderTest => ({
  name,
  http2: ['h2c', 'h2'],
  ...(http2BurstOptions === undefined ? {} : { http2BurstOptions }),
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
})

// The Web stream: @hono/node-server writes one chunk to an HTTP/2 stream and
// waits for it to drain (several turns over TLS): see the README's HTTP/2 section.
runAdapterContract(honoOnNode('@sse/hono', webSse, { highWaterMark: 512 * 1024 }))
// Straight to Node's response: the defaults keep up.
runAdapterContract(honoOnNode('@sse/hono/node', nodeSse))
