import http from 'node:http'
import { sse } from '@sse/express'
import {
  type AdapterUnderTest,
  CORS_ORIGIN,
  listen,
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
      return listen(http.createServer(app))
    },
  }
}

const adapter = adapterOn('@sse/express (Express 5)', () => express())
runAdapterContract(adapterOn('@sse/express (Express 4)', () => express4() as never))

runAdapterContract(adapter)
