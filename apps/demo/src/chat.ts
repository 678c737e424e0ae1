// A stand-in for an LLM: a canned answer picked by keyword, streamed as
// word-sized tokens with a typing rhythm. Deterministic for a given prompt, so
// tests can compare what the page shows with `answerFor(prompt)`.
import { setTimeout as sleep } from 'node:timers/promises'

const ANSWERS: Array<[RegExp, string]> = [
  [
    /redis|scale|instance|process|cluster/i,
    'With REDIS_URL set, every instance runs its hub on one Redis engine: topics are spread ' +
      'over shards, each shard a Redis Stream, and an instance follows only the shards its ' +
      'tabs need. A notification posted to any instance reaches the right tabs on every ' +
      'instance, and a tab can reconnect to any instance and resume from its Last-Event-ID.' +
      '\n\nThe chart has a single producer at a time: instances take turns through a ' +
      'two-second lease.',
  ],
  [
    /reconnect|drop|resume|miss|last.?event|lost/i,
    'Press "Drop connection" and watch the stream panel. The server closes every stream; ' +
      "your browser's EventSource reconnects by itself and sends the id of the last event it " +
      'saw as Last-Event-ID. That id holds one position per shard, so it covers every topic ' +
      'of the tab: the hub replays what each of them missed, then switches to live ' +
      'events.\n\nThe sequence numbers on the chart prove it: 0 missed, 0 duplicated.',
  ],
  [
    /^\s*(hi|hello|hey|yo)\b/i,
    'Hello! I am a very small language model: I know four answers and I type them one ' +
      'token at a time over Server-Sent Events. Ask me about reconnecting, Redis, or how ' +
      'this answer reaches you.',
  ],
]

const DEFAULT_ANSWER =
  'This answer is a POST response streamed as Server-Sent Events. The page sends your ' +
  'prompt with fetch through @sse/client, which reads the stream with a spec-exact parser; ' +
  'the server hands an async generator to session.pipe(), which writes one `token` event ' +
  'per item, waits whenever the socket is full, and stops the generator if you press ' +
  "Stop.\n\nSwap the generator for your model's stream and nothing else changes."

/** The full answer the fake model gives to `prompt`. */
export function answerFor(prompt: string): string {
  const quoted = prompt.length > 60 ? prompt.slice(0, 57).trimEnd() + '…' : prompt
  const body = ANSWERS.find(([pattern]) => pattern.test(prompt))?.[1] ?? DEFAULT_ANSWER
  return `You asked: “${quoted}”.\n\n${body}`
}

/** Splits text into word-sized tokens that keep their leading whitespace, as LLM tokens do. */
export function tokenize(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? []
}

/**
 * Yields the answer to `prompt` token by token, `delay` ms apart on average.
 *
 * @example
 * ```ts
 * await session.pipe(fakeTokens('hello'), { event: 'token', close: true })
 * ```
 */
export async function* fakeTokens(prompt: string, delay = 35): AsyncGenerator<string> {
  const tokens = tokenize(answerFor(prompt))
  for (let i = 0; i < tokens.length; i++) {
    // A fixed jitter pattern: it reads like typing, and stays reproducible.
    if (delay > 0) await sleep(delay * (0.5 + ((i * 7) % 10) / 10))
    yield tokens[i]!
  }
}
