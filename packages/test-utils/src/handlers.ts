import type { Session } from '@sse/core'

/**
 * Handlers that fail after the stream opened (each sends one event first),
 * one synchronously and one asynchronously: every adapter must close the
 * stream and route the error to its error hook for both.
 */
export const failingHandlers: ReadonlyArray<
  readonly ['throws' | 'rejects', (session: Session) => void | Promise<void>]
> = [
  [
    'throws',
    (session) => {
      session.send('before')
      throw new Error('boom')
    },
  ],
  [
    'rejects',
    async (session) => {
      session.send('before')
      await Promise.resolve()
      throw new Error('boom')
    },
  ],
]
