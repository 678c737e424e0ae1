// The little HTTP plumbing the demo needs without a framework: JSON bodies
// with a size cap, JSON answers, and a fixed set of static files.
import { createReadStream, existsSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** An error with the HTTP status to answer it with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

/** Reads a JSON request body of at most `limit` bytes. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  // A form or a `text/plain` fetch from another site cannot set this type
  // without a CORS preflight, which this server never grants.
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    throw new HttpError(415, 'Send JSON (content-type: application/json)')
  }
  if (Number(req.headers['content-length'] ?? 0) > limit) {
    throw new HttpError(413, `The body is limited to ${limit} bytes`)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > limit) throw new HttpError(413, `The body is limited to ${limit} bytes`)
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpError(400, 'The body is not valid JSON')
  }
}

/** Reads `body[field]` as a trimmed, non-empty string of at most `max` characters. */
export function readText(body: unknown, field: string, max: number): string {
  const value = (body as Record<string, unknown> | null)?.[field]
  if (typeof value !== 'string' || value.trim() === '') {
    throw new HttpError(400, `\`${field}\` must be a non-empty string`)
  }
  // Control characters have no business in a chat line; line breaks become spaces.
  const text = value.replace(/\p{Cc}+/gu, ' ').trim()
  if (text.length > max) throw new HttpError(400, `\`${field}\` is limited to ${max} characters`)
  return text
}

/** Answers with a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  res.end(JSON.stringify(body))
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
}

const publicDir = fileURLToPath(new URL('../public/', import.meta.url))
const require = createRequire(import.meta.url)
/** The ESM builds the page imports through its import map (no bundler, no build step of its own). */
const vendorDirs: Record<string, string> = {
  core: join(dirname(require.resolve('@sse/core/package.json')), 'dist'),
  client: join(dirname(require.resolve('@sse/client/package.json')), 'dist'),
}

/**
 * The file a static path maps to, or `undefined`: the page's own files, and
 * `/vendor/{core,client}/*.js` from those packages' `dist`.
 */
export function staticFile(pathname: string): string | undefined {
  if (pathname === '/') return join(publicDir, 'index.html')
  if (/^\/[a-z]+\.(css|js)$/.test(pathname)) return join(publicDir, pathname)
  // Names only, never a path: nothing outside those folders can be asked for.
  const vendor = /^\/vendor\/(core|client)\/([\w-]+\.js(?:\.map)?)$/.exec(pathname)
  if (vendor !== null) return join(vendorDirs[vendor[1]!]!, vendor[2]!)
  return undefined
}

/** The vendored builds that are missing: the page needs `pnpm build` first. */
export function missingVendorFiles(): string[] {
  return Object.values(vendorDirs)
    .map((dir) => join(dir, 'index.js'))
    .filter((file) => !existsSync(file))
}

/** Streams a static file, or answers 404. */
export function sendFile(res: ServerResponse, file: string): void {
  const type = TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream'
  const stream = createReadStream(file)
  stream.once('open', () => {
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' })
    stream.pipe(res)
  })
  stream.once('error', () => {
    if (!res.headersSent) res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n')
    else res.destroy()
  })
}
