import { CLOSED, connect } from '@sse/client'

// Streams an answer from a POST endpoint and resolves with the whole text.
export async function chat(url: string, prompt: string, token: string): Promise<string> {
  const stream = connect(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt }), // sent again on every reconnect
  })
  stream.addEventListener('error', (error) => {
    if (stream.readyState === CLOSED) console.error('gave up:', error.status, error.message)
  })
  let text = ''
  for await (const event of stream) {
    if (event.type === 'done') break // leaving the loop closes the stream
    text += event.data
  }
  return text
}
