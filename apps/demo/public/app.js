// The demo page. Plain ES modules, no build step. The tab's one stream is the
// browser's own EventSource on `/events?user=<name>`: the server subscribes it
// to `users/<name>` and the shared topics, and its one Last-Event-ID resumes
// them all. The chat uses @sse/client through the import map (chat.js).
import { renderChart } from './chart.js'
import { setupChat } from './chat.js'
import { startMetricsPanel } from './metrics.js'
import { setupNotifyForm, showNotice } from './notices.js'
import { setPresence } from './presence.js'

const $ = (id) => document.getElementById(id)
const MAX_POINTS = 120
const MAX_NOTICES = 30
// As the server's check (src/topics.ts), so a bad name is caught before the 400.
const USER_NAME = /^[a-z0-9][a-z0-9_-]{0,23}$/
const SOME_USERS = ['ada', 'grace', 'alan', 'barbara', 'edsger', 'margaret']

/**
 * Everything the page knows about its stream. Exposed as `window.demo` so
 * the browser tests can read what a person sees.
 */
const state = {
  user: '',
  /** The topics the server subscribed this tab to, from `hello`. */
  topics: [],
  /** Events received per topic. */
  byTopic: {},
  points: [],
  notices: [],
  privateNotices: [],
  received: 0,
  missed: 0,
  duplicated: 0,
  opens: 0,
  reconnects: 0,
  lastSeq: null,
  lastEventId: '',
  /** The Last-Event-ID held when the connection dropped (null while connected). */
  away: null,
  instance: '',
  resumes: [],
  chats: 0,
  // What has been shown, by content: a chart point by its sequence number and
  // time, a notice by its id. A second copy is counted, never shown.
  seen: new Set(),
  seenOrder: [],
  replaying: false,
  caughtUp: 0,
  replayedByTopic: {},
  markNext: false,
  resynced: null,
  /** The last /metrics poll, summed by metric name (metrics.js). */
  metrics: {},
}
window.demo = state

// ---------------------------------------------------------------- who am I

const params = new URLSearchParams(location.search)
if (params.get('user') === null) {
  // No name yet: pick one and keep it in the address, so a reload (or a
  // copied link) is the same user.
  params.set('user', SOME_USERS[Math.floor(Math.random() * SOME_USERS.length)])
  history.replaceState(null, '', `?${params}`)
}
state.user = params.get('user').trim().toLowerCase()
$('user-name').value = state.user
$('private-topic').textContent = `users/${state.user}`

$('user-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const next = $('user-name').value.trim().toLowerCase()
  if (!USER_NAME.test(next)) {
    $('user-name').setCustomValidity('1 to 24 letters, digits, _ or -')
    $('user-name').reportValidity()
    return
  }
  params.set('user', next)
  location.search = `?${params}`
})
$('user-name').addEventListener('input', () => $('user-name').setCustomValidity(''))

// ---------------------------------------------------------------- the stream

const source = USER_NAME.test(state.user)
  ? new EventSource(`/events?user=${encodeURIComponent(state.user)}`)
  : undefined
if (source === undefined) setStatus('invalid user name')

source?.addEventListener('open', () => {
  setStatus('live')
  state.opens++
  if (state.opens > 1) {
    // Reconnected: what arrives before `hello` is the server's replay.
    state.reconnects++
    state.replaying = true
    state.caughtUp = 0
    state.replayedByTopic = {}
    state.markNext = true
  }
  renderStats()
})

source?.addEventListener('error', () => {
  if (state.opens > 0 && state.away === null) state.away = state.lastEventId
  setStatus(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting')
})

source?.addEventListener('hello', (event) => {
  const hello = JSON.parse(event.data)
  state.instance = hello.instance
  state.topics = hello.topics
  $('instance').textContent = `served by ${hello.instance} · ${hello.engine} engine`
  if (hello.resumedFrom === null) {
    // A first visit: the recent shared events, then live ones continue from them.
    for (const point of hello.points) {
      if (firstCopy(`p${point.seq}.${point.t}`)) addPoint(point, false)
    }
    for (const notice of hello.notices) if (firstCopy(`n${notice.id}`)) addNotice(notice)
    for (const count of hello.presence) setPresence(count)
  } else {
    logResume(hello.resumedFrom)
  }
  state.replaying = false
  state.away = null
  renderStats()
})

source?.addEventListener('point', (event) => {
  const point = JSON.parse(event.data)
  if (received(event, 'chart', `p${point.seq}.${point.t}`)) addPoint(point, true)
})

source?.addEventListener('notice', (event) => {
  const notice = JSON.parse(event.data)
  const topic = notice.to === null ? 'notices' : `users/${notice.to}`
  if (received(event, topic, `n${notice.id}`)) addNotice(notice)
})

source?.addEventListener('presence', (event) => {
  received(event, 'presence')
  setPresence(JSON.parse(event.data))
})

// The server could not resume from our id (it restarted, or we were away
// longer than its history): it says so instead of leaving a silent gap.
source?.addEventListener('resync', (event) => {
  const { lastEventId, reason } = JSON.parse(event.data)
  state.resynced = { lastEventId, reason }
  state.lastSeq = null
  noteId(event)
})

/** Counts an event of `topic`; `false` for a second copy of something already shown. */
function received(event, topic, key) {
  if (key !== undefined && !firstCopy(key)) {
    state.duplicated++
    renderStats()
    return false
  }
  state.received++
  state.byTopic[topic] = (state.byTopic[topic] ?? 0) + 1
  if (state.replaying) {
    state.caughtUp++
    state.replayedByTopic[topic] = (state.replayedByTopic[topic] ?? 0) + 1
  }
  noteId(event)
  scheduleRender()
  return true
}

function firstCopy(key) {
  if (state.seen.has(key)) return false
  state.seen.add(key)
  state.seenOrder.push(key)
  if (state.seenOrder.length > 5000) state.seen.delete(state.seenOrder.shift())
  return true
}

function noteId(event) {
  if (event.lastEventId) state.lastEventId = event.lastEventId
  $('last-id').textContent = state.lastEventId || '–'
}

function addPoint(point, live) {
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
    away: state.away,
    caughtUp: state.caughtUp,
    byTopic: state.replayedByTopic,
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
    const topics = Object.entries(entry.byTopic)
      .map(([topic, count]) => `${topic} ${count}`)
      .join(', ')
    item.append(
      strong,
      ` · ${entry.caughtUp} ${events} replayed${topics ? ` (${topics})` : ''} · ${entry.missed} missed, ${entry.duplicated} duplicated`,
    )
  }
  list.prepend(item)
}

// ---------------------------------------------------------------- rendering

function setStatus(status) {
  $('status').dataset.state = status
  $('status-text').textContent = status
}

function renderStats() {
  $('received').textContent = String(state.received)
  $('reconnects').textContent = String(state.reconnects)
  $('missed').textContent = String(state.missed)
  $('duplicated').textContent = String(state.duplicated)
  $('missed').parentElement.className = state.missed === 0 ? 'good' : 'bad'
  $('duplicated').parentElement.className = state.duplicated === 0 ? 'good' : 'bad'
  renderTopics()
}

function renderTopics() {
  const list = $('topics')
  if (state.topics.length === 0) return
  if (list.children.length !== state.topics.length || list.querySelector('.empty')) {
    list.replaceChildren(
      ...state.topics.map((topic) => {
        const item = document.createElement('li')
        item.dataset.topic = topic
        const name = document.createElement('code')
        name.textContent = topic
        if (topic.startsWith('users/')) {
          item.className = 'private'
          name.className = 'private'
        }
        item.append(name, document.createElement('b'))
        return item
      }),
    )
  }
  for (const item of list.children) {
    item.querySelector('b').textContent = String(state.byTopic[item.dataset.topic] ?? 0)
  }
}

let frame = 0
function scheduleRender() {
  if (frame === 0) frame = requestAnimationFrame(render)
}

function render() {
  frame = 0
  renderStats()
  renderChart($('chart'), state.points, MAX_POINTS)
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

window.addEventListener('resize', scheduleRender)

// ---------------------------------------------------------------- notifications

function addNotice(notice) {
  const kept = notice.to === null ? state.notices : state.privateNotices
  kept.push({ ...notice, replayed: state.replaying })
  if (kept.length > MAX_NOTICES) kept.shift()
  showNotice(notice, MAX_NOTICES)
}

$('drop').addEventListener('click', () => {
  fetch('/drop', { method: 'POST' })
})

setupNotifyForm()
setupChat(() => state.chats++)
startMetricsPanel(state)
