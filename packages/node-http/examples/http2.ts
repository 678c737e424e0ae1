import { readFileSync } from 'node:fs'
import { createSecureServer } from 'node:http2'
import { sse } from '@sse/node-http'

// HTTP/2 lifts the browser's six-connections-per-origin limit on streams;
// allowHTTP1 keeps HTTP/1.1 clients working on the same port.
export const server = createSecureServer(
  {
    key: readFileSync(process.env.TLS_KEY ?? 'key.pem'),
    cert: readFileSync(process.env.TLS_CERT ?? 'cert.pem'),
    allowHTTP1: true,
  },
  sse((session, { req }) => {
    session.send({ protocol: req.httpVersion })
  }),
).listen(Number(process.env.PORT ?? 3443))
