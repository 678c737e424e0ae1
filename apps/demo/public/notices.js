// Notifications: the two lists, "For you" (`users/<name>`) and "Everyone"
// (`notices`), and the form that sends one to a user or to everyone.

const $ = (id) => document.getElementById(id)

/** Shows a notice at the top of its list, keeping at most `max`. */
export function showNotice(notice, max) {
  const mine = notice.to !== null
  const list = $(mine ? 'private-notices' : 'notices')
  list.querySelector('.empty')?.remove()
  const item = document.createElement('li')
  const text = document.createElement('span')
  text.className = 'text'
  text.textContent = notice.text
  const time = document.createElement('time')
  time.dateTime = new Date(notice.at).toISOString()
  time.textContent = new Date(notice.at).toLocaleTimeString()
  time.title = `to ${mine ? `users/${notice.to}` : 'notices'}, via ${notice.from}`
  item.append(text, time)
  list.prepend(item)
  while (list.children.length > max) list.lastElementChild.remove()
}

/** Wires the form: `POST /notify` with `to` when a user is named, without it for everyone. */
export function setupNotifyForm() {
  $('notify-form').addEventListener('submit', async (event) => {
    event.preventDefault()
    const input = $('notify-text')
    const to = $('notify-to').value.trim()
    const error = $('notify-error')
    error.hidden = true
    const response = await fetch('/notify', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(to === '' ? { text: input.value } : { text: input.value, to }),
    }).catch(() => undefined)
    if (response?.ok) {
      input.value = ''
      return
    }
    const body = await response?.json().catch(() => undefined)
    error.textContent = body?.error ?? 'The server could not be reached.'
    error.hidden = false
  })
}
