import { ServerResponse } from 'node:http'
import type { NodeRequest } from './index'

export interface RawSocket {
  write(chunk: string | Uint8Array): boolean
  once(event: 'drain', listener: () => void): unknown
  cork(): void
  uncork(): void
  readonly writableCorked: number
  readonly writableLength: number
  readonly writableHighWaterMark: number
}

// Sockets written to in this turn, corked until one shared nextTick: a burst
// of sends to one stream leaves as one writev, not one syscall per frame (what
// `res.write` gets from its own cork), and a broadcast to 10,000 streams costs
// one scheduled callback, not 10,000. A socket whose corked bytes would reach
// its high-water mark is flushed first: corking must not make a burst look
// like a full socket that the kernel would have taken at once.
let corked: RawSocket[] = []

function uncorkAll(): void {
  const sockets = corked
  corked = []
  // uncork() at zero is a no-op, so a socket flushed early (and corked again) is safe here.
  for (let i = 0; i < sockets.length; i++) sockets[i]!.uncork()
}

/** Writes `chunk` (`length` bytes, about) to `socket`, corked until the end of this turn. */
export function writeCorked(
  socket: RawSocket,
  chunk: string | Uint8Array,
  length: number,
): boolean {
  if (socket.writableCorked === 0) {
    if (corked.length === 0) process.nextTick(uncorkAll)
    socket.cork()
    corked.push(socket)
  } else if (socket.writableLength + length >= socket.writableHighWaterMark) {
    // Hand what is corked to the kernel, then keep corking after this frame.
    socket.uncork()
    socket.cork()
  }
  return socket.write(chunk)
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

/**
 * `frame` as one HTTP/1.1 chunk: size in hex, CRLF, the frame, CRLF. Text
 * stays text: the socket encodes it as it writes, with no Buffer of our own.
 */
export function chunked(frame: string | Uint8Array): string | Buffer {
  if (typeof frame === 'string') {
    return Buffer.byteLength(frame).toString(16) + '\r\n' + frame + '\r\n'
  }
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
