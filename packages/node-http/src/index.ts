import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse, Http2Stream } from 'node:http2'
import {
  createStreamHandler,
  type HeaderList,
  openStream,
  resolveStreamOptions,
  type Session,
  type SseSink,
  type StreamBinding,
  type StreamHandler,
  type StreamOptions,
} from '@sse/core'
import { chunked, type RawSocket, rawSocket, writeCorked } from './raw-socket'

export type { SendOptions, Session, SessionOptions } from '@sse/core'

/** A request from `http`, `https` or `http2` (compat API). */
export type NodeRequest = IncomingMessage | Http2ServerRequest
/** A response from `http`, `https` or `http2` (compat API). */
export type NodeResponse = ServerResponse | Http2ServerResponse

/** What a node-http handler gets besides its session: the request and the response. */
export interface NodeContext<
  Req extends NodeRequest = NodeRequest,
  Res extends NodeResponse = NodeResponse,
> {
  req: Req
  res: Res
}

/**
 * Options for {@link sse} and {@link openSession}: the session options
 * (`retry`, `heartbeat`, `maxQueueBytes`…), extra `headers`, a connection
 * `limit` and `onError`.
 *
 * @defaultValue `{}`: a 15 s heartbeat, a 2 s retry hint, no limit
 * @example
 * ```ts
 * const options: SseOptions = { heartbeat: 30_000, onError: (error) => reportError(error) }
 * ```
 */
export type SseOptions = StreamOptions<NodeContext>

/**
 * The node-http binding: `(req, res)` as a transport for the core's opener.
 * `@sse/express`, `@sse/koa` and `@sse/fastify` build on it.
 */
export const nodeBinding: StreamBinding<NodeContext, void> = {
  lastEventId: ({ req }) => lastEventIdHeader(req),
  url: ({ req }) => req.url,
  refuse({ res }, status, headers, body) {
    const out = res as ServerResponse
    writeHead(out, status, headers, false)
    out.end(body)
  },
  open({ req, res }, headers, { highWaterMark }) {
    // Both response kinds share these methods; their overloads differ, so
    // address them through the common ServerResponse shape.
    const out = res as ServerResponse
    writeHead(out, 200, headers, req.httpVersionMajor === 1)
    // No idle timeout on a stream meant to stay open; heartbeats keep proxies happy.
    req.setTimeout(0)
    if ('setNoDelay' in req.socket) req.socket.setNoDelay(true)
    const h2 = req.httpVersionMajor === 2 ? (res as Http2ServerResponse).stream : undefined
    const sink = new NodeSink(req, out, h2, highWaterMark)
    return { sink, result: undefined, started: () => sink.started() }
  },
  reportError(error) {
    // Plain node:http has no error path of its own: rethrown, as a throw in
    // a request listener would be (a rejection is left unhandled).
    throw error
  },
}

/**
 * A response as a session's sink. A class, not an object of closures: its
 * methods live once on the prototype, not once per connection (an idle
 * stream's memory is what 10,000 of them cost).
 */
class NodeSink implements SseSink {
  readonly #req: NodeRequest
  readonly #out: ServerResponse
  // HTTP/2: a stream's write() says false past 16 kB buffered, and that
  // buffer drains only on a later turn (nghttp2 sends then, as flow control
  // allows), so a client reading as fast as it can looked full after every
  // burst above 16 kB a turn, and was closed as slow. The stream is full at
  // `highWaterMark` bytes buffered instead (as a Web Response body is); the
  // session queues past it.
  readonly #h2: Http2Stream | undefined
  readonly #highWaterMark: number
  // Decided once, after the first write put the head on the wire: the
  // socket when frames can skip ServerResponse, else null.
  #socket: RawSocket | null | undefined

  constructor(
    req: NodeRequest,
    out: ServerResponse,
    h2: Http2Stream | undefined,
    highWaterMark: number,
  ) {
    this.#req = req
    this.#out = out
    this.#h2 = h2
    this.#highWaterMark = highWaterMark
  }

  write(chunk: string | Uint8Array): boolean {
    const socket = this.#socket
    if (socket) return writeCorked(socket, chunked(chunk), chunk.length)
    const out = this.#out
    if (out.writableEnded || out.destroyed) return false
    const accepted = out.write(chunk)
    // `compression` and similar middleware buffer writes until flushed.
    ;(out as { flush?: () => void }).flush?.()
    if (socket === undefined) this.#socket = rawSocket(this.#req, out)
    const h2 = this.#h2
    return accepted || (h2 !== undefined && h2.writableLength < this.#highWaterMark)
  }

  onDrain(listener: () => void): void {
    if (this.#socket) this.#socket.once('drain', listener)
    else this.#out.once('drain', listener)
  }

  close(): void {
    if (!this.#out.writableEnded) this.#out.end()
  }

  onClientGone(listener: () => void): void {
    const out = this.#out
    // `on`, not `once`: 'close' comes once, and once() would add a wrapper
    // object per connection.
    if (out.destroyed || out.writableFinished) listener()
    else out.on('close', listener)
  }

  /**
   * With no retry hint nothing was written yet: send the head now, so the
   * client's `open` fires at once (writeHead alone only stores it;
   * `headersSent` is already true after it).
   */
  started(): void {
    if (this.#socket === undefined && !this.#out.writableEnded) this.#out.flushHeaders()
  }
}

/**
 * Creates a `(req, res)` listener for `http`, `https` or `http2` (compat
 * API, secure or h2c) that opens an event stream and runs `handler(session,
 * { req, res })`. The session reads `Last-Event-ID` (or `?lastEventId=`),
 * and closes when the client disconnects.
 *
 * Headers already set on `res` are kept. `Connection: keep-alive` is sent on
 * HTTP/1.x only, as HTTP/2 forbids it. Errors: a handler that throws or
 * rejects closes its session and goes to `onError`; without it, it is
 * rethrown, as from any listener.
 *
 * @defaultValue `options` is `{}`
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { sse } from '@sse/node-http'
 *
 * createServer(sse((session, { req }) => {
 *   session.send({ hello: req.headers['user-agent'] })
 * })).listen(3000)
 * ```
 */
export function sse<Req extends NodeRequest = NodeRequest, Res extends NodeResponse = NodeResponse>(
  handler: StreamHandler<NodeContext<Req, Res>>,
  options?: StreamOptions<NodeContext<Req, Res>>,
): (req: Req, res: Res) => void {
  const serve = createStreamHandler(
    nodeBinding as unknown as StreamBinding<NodeContext<Req, Res>, void>,
    handler,
    options,
  )
  return (req, res) => serve({ req, res })
}

/**
 * Opens an event stream on `res` and returns its session, for code that
 * cannot hand over a handler (a router that calls you with `req` and `res`).
 * Returns `undefined` when the `limit` refused the stream: the `429` has
 * been sent.
 *
 * @example
 * ```ts
 * const session = openSession(req, res, { heartbeat: 30_000 })
 * if (session === undefined) return // over the limit: answered with 429
 * session.send({ hello: 'world' })
 * ```
 */
export function openSession(
  req: NodeRequest,
  res: NodeResponse,
  options?: SseOptions,
): Session | undefined {
  return openStream(nodeBinding, { req, res }, resolveStreamOptions(options)).session
}

// The head as one object per header list: writeHead takes it in one call,
// with no per-response header dictionary kept alive (it adds up over
// thousands of idle streams).
const heads = new WeakMap<HeaderList, { h1: OutgoingHttpHeaders; h2: OutgoingHttpHeaders }>()

function headObject(headers: HeaderList, http1: boolean): OutgoingHttpHeaders {
  let cached = heads.get(headers)
  if (cached === undefined) {
    const h2: OutgoingHttpHeaders = {}
    for (const [name, value] of headers) {
      const previous = h2[name]
      if (previous === undefined) h2[name] = value
      else h2[name] = [...(Array.isArray(previous) ? previous : [String(previous)]), value]
    }
    cached = { h1: { ...h2, connection: 'keep-alive' }, h2 }
    heads.set(headers, cached)
  }
  return http1 ? cached.h1 : cached.h2
}

function writeHead(
  out: ServerResponse,
  status: number,
  headers: HeaderList,
  keepAlive: boolean,
): void {
  const head = headObject(headers, keepAlive)
  if (out.getHeaderNames().length === 0) {
    out.writeHead(status, head)
    return
  }
  // Keep what earlier middleware (CORS…) set, ours on top.
  for (const [name, value] of Object.entries(head)) out.setHeader(name, value!)
  out.statusCode = status
}

/**
 * The first `Last-Event-ID` header, read from `rawHeaders`: `req.headers` is
 * built on first use, and an idle stream would keep that object for nothing.
 */
function lastEventIdHeader(req: NodeRequest): string | undefined {
  const raw = req.rawHeaders
  let value: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length !== 13 || name.toLowerCase() !== 'last-event-id') continue
    // Repeated, the values join as `req.headers` and `Headers.get` join them.
    value = value === undefined ? raw[i + 1]! : value + ', ' + raw[i + 1]!
  }
  return value
}
