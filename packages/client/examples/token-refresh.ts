import { connect, type EventStream } from '@sse/client'

// Where your application keeps its token.
export const tokens = {
  value: 'expired',
  current: async () => tokens.value,
  refresh: async () => {
    tokens.value = 'fresh'
  },
}

// An expiring bearer token, renewed on every reconnect; the resume goes on.
export function feed(url: string): EventStream {
  return connect(url, {
    headers: async () => ({ authorization: `Bearer ${await tokens.current()}` }),
    onUnauthorized: async () => {
      await tokens.refresh()
      return true // try again with the new token
    },
  })
}
