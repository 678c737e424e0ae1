/**
 * A client without a network: a core `Session` whose bytes go straight into
 * our parser, as a browser's EventSource would read them. For tests of hubs
 * and engines, where HTTP would only add noise.
 */
import { createParser, createSession, type ParsedEvent, type Session } from '@sse/core'

/** A session and what its client made of the stream. */
export interface MemoryClient {
  readonly session: Session
  /** Every dispatched event, in order (id-only frames dispatch none). */
  readonly events: ParsedEvent[]
  /** The data of the unnamed (`message`) events. */
  messages(): string[]
  /** The parsed data of the `resync` events. */
  resyncs(): Array<{ lastEventId: string | null; reason: string }>
  /** The Last-Event-ID a reconnect would send now. */
  lastEventId(): string
  /** The client goes away (the session closes, as when a socket drops). */
  disconnect(): void
}

/**
 * Opens a session for a client that resumes from `lastEventId` (if given).
 *
 * @example
 * ```ts
 * const client = memoryClient()
 * await hub.subscribe(client.session, 'news').ready
 * client.disconnect()
 * const again = memoryClient(client.lastEventId())
 * ```
 */
export function memoryClient(lastEventId?: string): MemoryClient {
  const events: ParsedEvent[] = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  const gone = new Set<() => void>()
  let connected = true
  const leave = () => {
    if (!connected) return
    connected = false
    for (const listener of gone) listener()
  }
  const session = createSession(
    {
      write(chunk) {
        if (connected) parser.feed(chunk)
        return true
      },
      onDrain: () => undefined,
      close: leave,
      onClientGone(listener) {
        if (connected) gone.add(listener)
        else listener()
      },
    },
    { retry: false, heartbeat: false, lastEventId },
  )
  const named = (type: string) => events.filter((event) => event.type === type)
  return {
    session,
    events,
    messages: () => named('message').map((event) => event.data),
    resyncs: () => named('resync').map((event) => JSON.parse(event.data)),
    lastEventId: () => parser.lastEventId,
    disconnect: leave,
  }
}
