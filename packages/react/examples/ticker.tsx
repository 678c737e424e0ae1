import { useEventSource } from '@sse/react'

export function Ticker({ symbol, token }: { symbol: string; token: string }) {
  const { lastEvent, status, error, close } = useEventSource(`/prices/${symbol}`, {
    headers: { authorization: `Bearer ${token}` },
    events: ['price'], // named events, besides 'message'
    onEvent: (event) => console.debug(event.type, event.data),
    deps: [token], // reconnect when the token changes
  })

  if (status === 'closed' && error) return <p>Stopped: {error.message}</p>
  if (status === 'connecting') return <p>Connecting…</p>
  return (
    <button type="button" onClick={close}>
      {lastEvent?.data ?? 'waiting'} (stop)
    </button>
  )
}
