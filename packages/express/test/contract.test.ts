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
import express4 from 'express4'

// Express has no HTTP/2 support (its req/res prototypes are node:http's), so
// the contract runs on HTTP/1.1 only.
// The same adapter on both supported majors (the peer range is ^4.21 || ^5).
function adapterOn(name: string, createApp: () => ReturnType<typeof express>): AdapterUnderTest {
  return {
    name,
    async start(routes, options) {
      const app = createApp()
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
}

const adapter = adapterOn('@sse/express (Express 5)', () => express())
runAdapterContract(adapterOn('@sse/express (Express 4)', () => express4() as never))

runAdapterContract(adapter)
