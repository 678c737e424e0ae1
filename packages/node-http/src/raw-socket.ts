import { ServerResponse } from 'node:http'
import type { NodeRequest } from './index'

export interface RawSocket {
  write(chunk: Uint8Array): boolean
  once(event: 'drain', listener: () => void): unknown
}

/**
 * The socket itself, when frames may bypass `ServerResponse.write`: an
 * HTTP/1.1 chunked response whose head is already sent, that nothing has
 * wrapped (compression middleware replaces `write`), owning its socket.
 * `res.write` costs a cork, a nextTick, a four-piece writev and a Buffer copy
 * per response; a broadcast to 10,000 streams pays that 10,000 times.
 * `res.end()` still writes the terminating chunk through the response, after
 * everything we wrote, because both go through the same socket in order.
 */
export function rawSocket(req: NodeRequest, out: ServerResponse): RawSocket | null {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return null
  if (out.write !== ServerResponse.prototype.write) return null
  const socket = out.socket
  if (socket === null || socket.destroyed) return null
  const state = out as ServerResponse & { chunkedEncoding?: boolean }
  // Bytes the response still holds itself (not yet handed to the socket)
  // would be overtaken by direct socket writes.
  const ownBuffered = out.writableLength - socket.writableLength
  if (state.chunkedEncoding !== true || !out.headersSent || ownBuffered !== 0) return null
  return socket
}

// One-entry cache: a broadcast hands the same frame to every session, so it
// is framed once, not once per connection. A Buffer, not a plain Uint8Array:
// net.Socket wraps every non-Buffer chunk in a new Buffer, once per socket.
let lastFrame: Uint8Array | undefined
let lastChunk: Buffer | undefined

/** `frame` as one HTTP/1.1 chunk: size in hex, CRLF, the bytes, CRLF. */
export function chunked(frame: Uint8Array): Buffer {
  if (frame === lastFrame) return lastChunk!
  const size = frame.byteLength.toString(16)
  const chunk = Buffer.allocUnsafe(size.length + frame.byteLength + 4)
  // Buffer#write returns the byte count, not the next offset.
  chunk.write(size, 0, 'latin1')
  chunk.write('\r\n', size.length, 'latin1')
  chunk.set(frame, size.length + 2)
  chunk.write('\r\n', size.length + 2 + frame.byteLength, 'latin1')
  lastFrame = frame
  lastChunk = chunk
  return chunk
}
