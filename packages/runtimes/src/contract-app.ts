/**
 * The Web side of the adapter contract, as one `fetch` handler that runs on
 * any Web-standard runtime (Bun, Deno, workerd): the same routes under
 * `/core` (the `@sse/core` Web binding) and `/hono` (`@sse/hono`), plus
 * control routes the Node-side test drives (publish, drop every stream,
 * stats), since the test cannot reach into another runtime's memory.
 */
import {
  createConnectionLimiter,
  createHub,
  createMemoryEngine,
  type Hub,
  type StreamHandler,
  type StreamOptions,
  sse as webSse,
} from '@sse/core'
import { sse as honoSse } from '@sse/hono'
import { sendScript } from '@sse/test-utils/contract-script'
import { type Context, Hono } from 'hono'
import { cors } from 'hono/cors'

export const CORS_ORIGIN = 'https://client.example'
export const MIDDLEWARE_HEADER = 'x-contract-middleware'

interface Routes {
  hub: Hub
  errors: number
  /** Times the `/limited` handler ran. */
  limitedRuns: number
  limiter: ReturnType<typeof createConnectionLimiter>
}

/** The contract's routes, as (path, options, handler) for either binding. */
function routes<C>(state: Routes): Array<[string, StreamOptions<C>, StreamHandler<C>]> {
  const onError = (): void => {
    state.errors++
  }
  return [
    ['/script', { retry: 1234, heartbeat: false }, sendScript],
    ['/heartbeat', { heartbeat: 40, retry: false }, () => undefined],
    [
      '/echo-id',
      { heartbeat: false, retry: false },
      (session) => {
        session.send(session.lastEventId ?? '(none)')
        session.close()
      },
    ],
    [
      '/replay',
      // A heartbeat, so a runtime that learns of a disconnect only when a
      // write fails (workerd behind Miniflare's proxy) finds it in time.
      { retry: 20, heartbeat: 200 },
      (session) => state.hub.subscribe(session, ['replay/a', 'replay/b', 'replay/c/*']).ready,
    ],
    [
      '/throw',
      { heartbeat: false, onError },
      (session) => {
        session.send('before')
        throw new Error('sync failure')
      },
    ],
    [
      '/reject',
      { heartbeat: false, onError },
      async (session) => {
        session.send('before')
        await Promise.resolve()
        throw new Error('async failure')
      },
    ],
    [
      '/limited',
      { heartbeat: 200, limit: { limiter: state.limiter } },
      (session) => {
        state.limitedRuns++
        session.send('in')
      },
    ],
  ]
}

function newState(): Routes {
  return {
    hub: createHub({ engine: createMemoryEngine({ maxEvents: 10_000 }) }),
    errors: 0,
    limitedRuns: 0,
    limiter: createConnectionLimiter({ max: 1, retryAfter: 4 }),
  }
}

/** Control routes: the test publishes, drops every stream and reads counts here. */
async function control(state: Routes, request: Request, path: string): Promise<Response | null> {
  const url = new URL(request.url)
  if (request.method === 'POST' && path === '/publish') {
    await state.hub.publish(url.searchParams.get('topic')!, url.searchParams.get('data') ?? '')
    return new Response(null, { status: 204 })
  }
  if (request.method === 'POST' && path === '/drop') {
    let dropped = 0
    for (const { session } of state.hub.subscriptions()) {
      session.close()
      dropped++
    }
    return Response.json({ dropped })
  }
  if (path === '/stats') {
    return Response.json({
      sessions: state.hub.size,
      errors: state.errors,
      limited: state.limiter.size,
      limitedRuns: state.limitedRuns,
    })
  }
  return null
}

/** The app: `/core/*` on the core Web binding, `/hono/*` on `@sse/hono`. */
export function createContractApp(): { fetch(request: Request): Promise<Response> } {
  const core = newState()
  const coreRoutes = new Map(
    routes<Request>(core).map(([path, options, handler]) => [
      path,
      webSse(handler, {
        ...options,
        headers: { [MIDDLEWARE_HEADER]: 'kept', 'access-control-allow-origin': CORS_ORIGIN },
      }),
    ]),
  )
  const hono = newState()
  const app = new Hono().basePath('/hono')
  app.use(async (c, next) => {
    c.header(MIDDLEWARE_HEADER, 'kept')
    await next()
  })
  app.use(cors({ origin: CORS_ORIGIN }))
  for (const [path, options, handler] of routes<Context>(hono)) {
    app.get(path, honoSse(handler, options))
  }
  app.all('*', async (c) => (await control(hono, c.req.raw, c.req.path.slice(5))) ?? c.notFound())

  return {
    async fetch(request) {
      const path = new URL(request.url).pathname
      if (path.startsWith('/hono/')) return app.fetch(request)
      if (!path.startsWith('/core/')) return new Response('not found', { status: 404 })
      const route = coreRoutes.get(path.slice(5))
      if (route !== undefined && request.method === 'GET') return route(request)
      return (
        (await control(core, request, path.slice(5))) ?? new Response('not found', { status: 404 })
      )
    },
  }
}
