// The token stream: @sse/client reads a POST /chat response (a body, which
// EventSource cannot send) one `token` event at a time; Stop closes it.

const $ = (id) => document.getElementById(id)

// Loaded on its own, so the rest of the page works even if it cannot be.
const client = import('@sse/client')
// Reported when a question is asked, not as an unhandled rejection at load.
client.catch(() => undefined)
let stopChat

/** Wires the chat form; `onDone` is called after every answer, finished or stopped. */
export function setupChat(onDone) {
  $('chat-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const input = $('chat-prompt')
    const prompt = input.value.trim()
    if (prompt === '' || stopChat !== undefined) return
    input.value = ''
    ask(prompt).finally(onDone)
  })

  for (const chip of document.querySelectorAll('.chip')) {
    chip.addEventListener('click', () => {
      $('chat-prompt').value = chip.textContent
      $('chat-form').requestSubmit()
    })
  }

  $('chat-stop').addEventListener('click', () => stopChat?.())
}

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
    stopChat = undefined
    setChatting(false)
  }
}

function setChatting(busy) {
  $('chat-send').hidden = busy
  $('chat-stop').hidden = !busy
}
