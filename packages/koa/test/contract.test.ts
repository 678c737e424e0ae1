import http from 'node:http'
import http2 from 'node:http2'
import cors from '@koa/cors'
import { sse } from '@sse/koa'
import {
  type AdapterUnderTest,
  CORS_ORIGIN,
  listen,
  MIDDLEWARE_HEADER,
  runAdapterContract,
  tls,
} from '@sse/test-utils'
import Koa from 'koa'
import compress from 'koa-compress'

const adapter: AdapterUnderTest = {
  name: '@sse/koa',
  http2: ['h2c', 'h2'],
  async start(routes, options) {
    const app = new Koa()
    // The slow-client test resets its socket with unread data; Koa reports
    // that reset (through on-finished) like any other response error.
    app.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET') console.error(error)
    })
    if (options.compression) app.use(compress())
    app.use(async (ctx, next) => {
      ctx.set(MIDDLEWARE_HEADER, 'kept')
      await next()
    })
    app.use(cors({ origin: CORS_ORIGIN }))
    const mounted = new Map(routes.map((route) => [route.path, sse(route.handler, route.options)]))
    app.use((ctx, next) => {
      const middleware = mounted.get(ctx.path)
      return middleware === undefined ? next() : middleware(ctx, next)
    })
    const server =
      options.http2 === 'h2c'
        ? http2.createServer(app.callback())
        : options.http2 === 'h2'
          ? http2.createSecureServer({ ...tls }, app.callback())
          : http.createServer(app.callback())
    return listen(server)
  },
}

runAdapterContract(adapter)
