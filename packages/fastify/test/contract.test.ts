import fastifyCompress from '@fastify/compress'
import fastifyCors from '@fastify/cors'
import { fastifySse, sse } from '@sse/fastify'
import {
  type AdapterUnderTest,
  CORS_ORIGIN,
  MIDDLEWARE_HEADER,
  runAdapterContract,
  tls,
} from '@sse/test-utils'
import Fastify, { type FastifyInstance } from 'fastify'

const adapter: AdapterUnderTest = {
  name: '@sse/fastify',
  http2: ['h2c', 'h2'],
  async start(routes, { compression, http2 }) {
    // Fastify's three server shapes take different option types; the app is
    // used the same way afterwards.
    const app = (http2 === 'h2c'
      ? Fastify({ http2: true, forceCloseConnections: true })
      : http2 === 'h2'
        ? Fastify({ http2: true, https: tls, forceCloseConnections: true })
        : Fastify({ forceCloseConnections: true })) as unknown as FastifyInstance
    app.addHook('onRequest', async (_request, reply) => {
      reply.header(MIDDLEWARE_HEADER, 'kept')
    })
    await app.register(fastifyCors, { origin: CORS_ORIGIN })
    if (compression) await app.register(fastifyCompress)
    await app.register(fastifySse)
    for (const route of routes) {
      app.get(route.path, sse(route.handler, route.options))
    }
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as { port: number }
    return {
      url: `${http2 === 'h2' ? 'https' : 'http'}://127.0.0.1:${port}`,
      close: () => app.close(),
    }
  },
}

runAdapterContract(adapter)
