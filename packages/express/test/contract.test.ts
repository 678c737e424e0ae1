import type { AddressInfo } from 'node:net'
import { sse } from '@sse/express'
import {
  type AdapterUnderTest,
  CORS_ORIGIN,
  MIDDLEWARE_HEADER,
  runAdapterContract,
} from '@sse/test-utils'
import compression from 'compression'
import cors from 'cors'
import express from 'express'

// Express has no HTTP/2 support (its req/res prototypes are node:http's), so
// the contract runs on HTTP/1.1 only.
const adapter: AdapterUnderTest = {
  name: '@sse/express',
  async start(routes, options) {
    const app = express()
    if (options.compression) app.use(compression())
    app.use((_req, res, next) => {
      res.set(MIDDLEWARE_HEADER, 'kept')
      next()
    })
    app.use(cors({ origin: CORS_ORIGIN }))
    for (const route of routes) app.get(route.path, sse(route.handler, route.options))
    const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening))
    })
    const { port } = server.address() as AddressInfo
    return {
      url: `http://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve, reject) => {
          server.closeAllConnections()
          server.close((error) => (error ? reject(error) : resolve()))
        }),
    }
  },
}

runAdapterContract(adapter)
