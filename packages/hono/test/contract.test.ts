import { createServer as createH2cServer, createSecureServer } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { sse } from '@sse/hono'
import {
  type AdapterUnderTest,
  CORS_ORIGIN,
  MIDDLEWARE_HEADER,
  runAdapterContract,
  tls,
} from '@sse/test-utils'
import { Hono } from 'hono'
import { compress } from 'hono/compress'
import { cors } from 'hono/cors'

const adapter: AdapterUnderTest = {
  name: '@sse/hono',
  http2: ['h2c', 'h2'],
  async start(routes, { compression, http2 }) {
    const app = new Hono()
    app.use(async (c, next) => {
      c.header(MIDDLEWARE_HEADER, 'kept')
      await next()
    })
    app.use(cors({ origin: CORS_ORIGIN }))
    if (compression) app.use(compress())
    for (const route of routes) {
      app.get(route.path, (c) => sse(c, route.handler, route.options))
    }

    const base = { fetch: app.fetch, hostname: '127.0.0.1', port: 0 }
    // @hono/node-server picks the server through `createServer`/`serverOptions`.
    const options: Parameters<typeof serve>[0] =
      http2 === 'h2c'
        ? { ...base, createServer: createH2cServer }
        : http2 === 'h2'
          ? { ...base, createServer: createSecureServer, serverOptions: tls }
          : base
    const server = await new Promise<ServerType>((resolve) => {
      const listening = serve(options, () => resolve(listening))
    })
    const { port } = server.address() as AddressInfo
    return {
      url: `${http2 === 'h2' ? 'https' : 'http'}://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          if ('closeAllConnections' in server) server.closeAllConnections()
          server.close(() => resolve())
        }),
    }
  },
}

runAdapterContract(adapter)
