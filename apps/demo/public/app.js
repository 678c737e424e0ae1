// The demo page. Plain ES modules, no build step: the main stream is the
// browser's own EventSource; the chat uses @sse/client through the import map.

const $ = (id) => document.getElementById(id)
const MAX_POINTS = 120
const MAX_NOTICES = 30

/**
 * Everything the page knows about the main stream. Exposed as `window.demo`
 * so the browser tests can read what a person sees.
 */
const state = {
  points: [],
  received: 0,
  missed: 0,
  duplicated: 0,
  reconnects: 0,
  lastSeq: null,
  lastEventId: '',
  instance: '',
  resumes: [],
  chats: 0,
  // Ids of the events already shown: a second copy is counted, never shown.
  seen: new Set(),
  seenOrder: [],
  opened: false,
  replaying: false,
  caughtUp: 0,
  markNext: false,
  resynced: null,
}
window.demo = state

// ---------------------------------------------------------------- main stream

const source = new EventSource('/events')

source.addEventListener('open', () => {
  setStatus('live')
  if (state.opened) {
    // Reconnected: what arrives before `hello` is the server's replay.
    state.reconnects++
    state.replaying = true
    state.caughtUp = 0
    state.markNext = true
  }
  state.opened = true
  renderStats()
})

source.addEventListener('error', () => {
  setStatus(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting')
})

source.addEventListener('hello', (event) => {
  const hello = JSON.parse(event.data)
  state.instance = hello.instance
  $('instance').textContent = `served by ${hello.instance} · ${hello.store} store`
  setClients(hello.clients)
  if (hello.resumedFrom === null) {
    // A first visit: the recent history, then live events continue from it.
    for (const point of hello.points) {
      if (!state.seen.has(point.id)) addPoint(point, point.id, false)
    }
    for (const notice of hello.notices) {
      if (!state.seen.has(notice.id)) addNotice(notice, notice.id)
    }
  } else {
    logResume(hello.resumedFrom)
  }
  state.replaying = false
  noteId(event)
  renderStats()
})

source.addEventListener('point', (event) => {
  if (!firstCopy(event)) return
  addPoint(JSON.parse(event.data), event.lastEventId, true)
})

source.addEventListener('notice', (event) => {
  if (!firstCopy(event)) return
  addNotice(JSON.parse(event.data), event.lastEventId)
})

source.addEventListener('clients', (event) => setClients(Number(event.data)))

// The server could not resume from our id (it restarted, or we were away
// longer than its history): it says so instead of leaving a silent gap.
source.addEventListener('resync', (event) => {
  const { lastEventId, reason } = JSON.parse(event.data)
  state.resynced = { lastEventId, reason }
  state.lastSeq = null
  noteId(event)
})

/** Counts the event; `false` for a second copy of an id already shown. */
function firstCopy(event) {
  const id = event.lastEventId
  if (state.seen.has(id)) {
    state.duplicated++
    renderStats()
    return false
  }
  state.seen.add(id)
  state.seenOrder.push(id)
  if (state.seenOrder.length > 5000) state.seen.delete(state.seenOrder.shift())
  state.received++
  if (state.replaying) state.caughtUp++
  noteId(event)
  return true
}

function noteId(event) {
  if (event.lastEventId) state.lastEventId = event.lastEventId
  $('last-id').textContent = state.lastEventId || '–'
}

function addPoint(point, id, live) {
  if (!live) {
    state.seen.add(id)
    state.seenOrder.push(id)
  }
  // Consecutive sequence numbers: any hole is an event we never got.
  if (state.lastSeq !== null && point.seq > state.lastSeq + 1) {
    state.missed += point.seq - state.lastSeq - 1
  }
  state.lastSeq = point.seq
  state.points.push({
    ...point,
    replayed: live && state.replaying,
    mark: live && state.markNext,
  })
  state.markNext = false
  if (state.points.length > MAX_POINTS) state.points.shift()
  scheduleRender()
}

function logResume(from) {
  const entry = {
    from,
    caughtUp: state.caughtUp,
    missed: state.missed,
    duplicated: state.duplicated,
    resync: state.resynced,
  }
  state.resumes.push(entry)
  state.resynced = null
  const list = $('resumes')
  list.querySelector('.empty')?.remove()
  const item = document.createElement('li')
  const strong = document.createElement('strong')
  if (entry.resync) {
    item.className = 'warn'
    strong.textContent = `Could not resume from ${from} (${entry.resync.reason}).`
    item.append(strong, ' The server restarted or the history expired; continuing live.')
  } else {
    const ok = entry.missed === 0 && entry.duplicated === 0
    if (!ok) item.className = 'warn'
    strong.textContent = `Resumed from id ${from}`
    const events = entry.caughtUp === 1 ? 'event' : 'events'
    item.append(
      strong,
      ` · ${entry.caughtUp} ${events} replayed · ${entry.missed} missed, ${entry.duplicated} duplicated`,
    )
  }
  list.prepend(item)
}

// ---------------------------------------------------------------- rendering

function setStatus(status) {
  $('status').dataset.state = status
  $('status-text').textContent = status
}

function setClients(count) {
  $('clients').textContent = String(count)
}

function renderStats() {
  $('received').textContent = String(state.received)
  $('reconnects').textContent = String(state.reconnects)
  $('missed').textContent = String(state.missed)
  $('duplicated').textContent = String(state.duplicated)
  $('missed').parentElement.className = state.missed === 0 ? 'good' : 'bad'
  $('duplicated').parentElement.className = state.duplicated === 0 ? 'good' : 'bad'
}

let frame = 0
function scheduleRender() {
  if (frame === 0) frame = requestAnimationFrame(render)
}

function render() {
  frame = 0
  renderStats()
  renderChart()
  const points = state.points
  const last = points.at(-1)
  if (last === undefined) return
  $('value').textContent = last.value.toFixed(2)
  $('seq').textContent = `#${last.seq}`
  const first = points[0]
  const change = last.value - first.value
  const delta = $('delta')
  delta.textContent = `${change >= 0 ? '▲' : '▼'} ${Math.abs(change).toFixed(2)} over ${points.length} points`
  delta.className = `delta ${change >= 0 ? 'up' : 'down'}`
}

function renderChart() {
  const svg = $('chart')
  const width = svg.clientWidth || 720
  const height = svg.clientHeight || 280
  const pad = { left: 44, right: 16, top: 14, bottom: 14 }
  const points = state.points
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  if (points.length === 0) return

  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  for (const { value } of points) {
    min = Math.min(min, value)
    max = Math.max(max, value)
  }
  const span = Math.max(max - min, 2)
  min -= span * 0.15
  max += span * 0.15
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  const step = plotW / (MAX_POINTS - 1)
  const offset = MAX_POINTS - points.length
  const x = (i) => pad.left + (offset + i) * step
  const y = (v) => pad.top + (1 - (v - min) / (max - min)) * plotH

  let grid = ''
  for (let i = 0; i <= 4; i++) {
    const value = min + ((max - min) * i) / 4
    const gy = y(value).toFixed(1)
    grid += `<line class="grid-line" x1="${pad.left}" x2="${width - pad.right}" y1="${gy}" y2="${gy}"/>`
    grid += `<text class="axis" x="${pad.left - 8}" y="${gy}" dy="4" text-anchor="end">${value.toFixed(1)}</text>`
  }
  let line = ''
  let dots = ''
  let marks = ''
  points.forEach((point, i) => {
    const px = x(i).toFixed(1)
    const py = y(point.value).toFixed(1)
    line += `${i === 0 ? 'M' : 'L'}${px},${py}`
    if (point.replayed) dots += `<circle class="replayed" cx="${px}" cy="${py}" r="3"/>`
    if (point.mark) {
      marks += `<line class="resume-mark" x1="${px}" x2="${px}" y1="${pad.top}" y2="${height - pad.bottom}"/>`
      marks += `<text class="resume-label" x="${Number(px) + 5}" y="${pad.top + 10}">resumed</text>`
    }
  })
  const lastX = x(points.length - 1).toFixed(1)
  const lastY = y(points.at(-1).value).toFixed(1)
  const area = `${line}L${lastX},${height - pad.bottom}L${x(0).toFixed(1)},${height - pad.bottom}Z`
  svg.innerHTML = `<defs><linearGradient id="fill" x1="0" x2="0" y1="0" y2="1">
      <stop offset="0%" stop-color="#5eead4" stop-opacity="0.35"/>
      <stop offset="100%" stop-color="#5eead4" stop-opacity="0"/>
    </linearGradient></defs>
    ${grid}${marks}
    <path d="${area}" fill="url(#fill)"/>
    <path class="line" d="${line}"/>
    ${dots}
    <circle class="head-glow" cx="${lastX}" cy="${lastY}" r="9"/>
    <circle class="head" cx="${lastX}" cy="${lastY}" r="4"/>`
}

window.addEventListener('resize', scheduleRender)

// ---------------------------------------------------------------- notifications

function addNotice(notice, id) {
  state.seen.add(id)
  const list = $('notices')
  list.querySelector('.empty')?.remove()
  const item = document.createElement('li')
  const text = document.createElement('span')
  text.className = 'text'
  text.textContent = notice.text
  const time = document.createElement('time')
  time.dateTime = new Date(notice.at).toISOString()
  time.textContent = new Date(notice.at).toLocaleTimeString()
  time.title = `via ${notice.from}, id ${id}`
  item.append(text, time)
  list.prepend(item)
  while (list.children.length > MAX_NOTICES) list.lastElementChild.remove()
}

$('notify-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  const input = $('notify-text')
  const error = $('notify-error')
  error.hidden = true
  const response = await fetch('/notify', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: input.value }),
  }).catch(() => undefined)
  if (response?.ok) {
    input.value = ''
    return
  }
  const body = await response?.json().catch(() => undefined)
  error.textContent = body?.error ?? 'The server could not be reached.'
  error.hidden = false
})

$('drop').addEventListener('click', () => {
  fetch('/drop', { method: 'POST' })
})

// ---------------------------------------------------------------- chat

// Loaded on its own, so the rest of the page works even if it cannot be.
const client = import('@sse/client')
// Reported when a question is asked, not as an unhandled rejection at load.
client.catch(() => undefined)
let stopChat

$('chat-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const input = $('chat-prompt')
  const prompt = input.value.trim()
  if (prompt === '' || stopChat !== undefined) return
  input.value = ''
  ask(prompt)
})

for (const chip of document.querySelectorAll('.chip')) {
  chip.addEventListener('click', () => {
    $('chat-prompt').value = chip.textContent
    $('chat-form').requestSubmit()
  })
}

$('chat-stop').addEventListener('click', () => stopChat?.())

async function ask(prompt) {
  const conversation = $('conversation')
  conversation.querySelector('.empty')?.remove()
  const question = document.createElement('p')
  question.className = 'bubble prompt'
  question.textContent = prompt
  const answer = document.createElement('p')
  answer.className = 'bubble answer streaming'
  conversation.append(question, answer)
  setChatting(true)

  const meta = $('chat-meta')
  const started = performance.now()
  let tokens = 0
  let firstToken = 0
  let stopped = false
  try {
    const { connect } = await client
    const stream = connect('/chat', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt }),
      reconnect: false,
    })
    stopChat = () => {
      stopped = true
      stream.close()
    }
    for await (const event of stream) {
      if (event.type !== 'token') continue
      if (tokens === 0) firstToken = performance.now() - started
      tokens++
      answer.textContent += event.data
      conversation.scrollTop = conversation.scrollHeight
      meta.textContent = `${tokens} tokens · first after ${Math.round(firstToken)} ms`
    }
    const seconds = (performance.now() - started) / 1000
    meta.textContent = `${tokens} token events in ${seconds.toFixed(1)} s · first after ${Math.round(firstToken)} ms${stopped ? ' · stopped' : ''}`
  } catch (error) {
    if (!stopped) {
      answer.textContent += `${answer.textContent ? '\n\n' : ''}⚠ ${error?.message ?? error}`
    }
  } finally {
    answer.classList.remove('streaming')
    answer.dataset.done = 'true'
    state.chats++
    stopChat = undefined
    setChatting(false)
  }
}

function setChatting(busy) {
  $('chat-send').hidden = busy
  $('chat-stop').hidden = !busy
}
