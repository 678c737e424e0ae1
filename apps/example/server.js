// A live clock over plain node:http with @sse/core: every connection joins one
// channel, the history lives in a MemoryEventStore, and a reconnecting browser
// resumes from its Last-Event-ID. Run it with `pnpm example` from the root.
import { createServer } from 'node:http'
import {
  createChannel,
  createSession,
  MemoryEventStore,
  readLastEventId,
  SSE_HEADERS,
} from '@sse/core'

const clock = createChannel({ store: new MemoryEventStore({ maxEvents: 100 }) })
let tick = 0
setInterval(() => {
  clock.broadcast({ tick: ++tick, time: new Date().toISOString() }, { event: 'tick' })
}, 1000)

/** Binds a node:http response to a core session (what @sse/node-http does). */
function openStream(req, res) {
  res.writeHead(200, { ...SSE_HEADERS, connection: 'keep-alive' })
  res.flushHeaders()
  const gone = new AbortController()
  res.once('close', () => gone.abort())
  const sink = {
    write: (chunk) => res.write(chunk),
    onDrain: (listener) => res.once('drain', listener),
    close: () => res.end(),
    signal: gone.signal,
  }
  return createSession(sink, {
    lastEventId: readLastEventId(req.headers['last-event-id'], req.url),
    retry: 1000,
  })
}

const page = `<!doctype html><meta charset="utf-8"><title>@sse example</title>
<style>body{font:16px system-ui;margin:2rem;max-width:40rem}li{font-family:monospace}</style>
<h1>@sse live clock</h1>
<p>Connections: <b id="n">0</b> · <button id="drop">Drop every connection</button></p>
<p>After a drop the browser reconnects with <code>Last-Event-ID</code> and the server
replays what it missed: the tick numbers below never skip or repeat.</p>
<ol id="log" reversed></ol>
<script>
  const log = document.getElementById('log')
  const source = new EventSource('/events')
  let last = 0
  source.addEventListener('tick', (e) => {
    const { tick, time } = JSON.parse(e.data)
    const ok = last === 0 || tick === last + 1
    last = tick
    const li = document.createElement('li')
    li.textContent = 'tick ' + tick + ' at ' + time + ' (id ' + e.lastEventId + ')' + (ok ? '' : ' ⚠ gap')
    log.prepend(li)
  })
  source.addEventListener('clients', (e) => { document.getElementById('n').textContent = e.data })
  document.getElementById('drop').onclick = () => fetch('/drop', { method: 'POST' })
</script>`

const server = createServer(async (req, res) => {
  const { pathname } = new URL(req.url, 'http://localhost')
  if (pathname === '/events') {
    const session = openStream(req, res)
    await clock.join(session)
    session.send(String(clock.size), { event: 'clients' })
  } else if (pathname === '/drop' && req.method === 'POST') {
    for (const session of [...clock.sessions()]) session.close()
    res.writeHead(204).end()
  } else if (pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page)
  } else {
    res.writeHead(404).end()
  }
})

const port = Number(process.env.PORT ?? 3000)
server.listen(port, '127.0.0.1', () => {
  console.log(`@sse example: open http://127.0.0.1:${server.address().port}/ (Ctrl+C to stop)`)
})
