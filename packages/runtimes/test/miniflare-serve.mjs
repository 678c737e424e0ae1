// Runs under Node >= 22 next to `miniflare`: serves a Workers module on the
// real workerd at 127.0.0.1 (port from the OS) and prints {"port":N}.
import { Miniflare } from 'miniflare'

const mf = new Miniflare({
  modules: true,
  scriptPath: process.argv[2],
  compatibilityDate: '2025-09-01',
  // request.signal aborts when the client leaves only with this flag; the
  // contract's disconnect tests fail without it (checked).
  compatibilityFlags: ['enable_request_signal'],
  host: '127.0.0.1',
  port: 0,
})
const url = await mf.ready
console.log(JSON.stringify({ port: Number(url.port) }))
process.once('SIGTERM', () => mf.dispose().then(() => process.exit(0)))
