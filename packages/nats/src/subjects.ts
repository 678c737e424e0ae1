/**
 * NATS subjects.
 *
 * The engine publishes an event to one subject per shard its topics fall
 * on, `<prefix>.<shard>` (`sse.3`). Topics travel in the message body, never
 * in a subject, so no topic name, whatever it holds (`.`, `*`, `>`,
 * spaces), can act as a wildcard or a separator, or widen a subscription:
 * a process consumes shard subjects only, and the hub matches topics.
 *
 * For applications that bridge topics to NATS subjects of their own (to
 * mirror events to other NATS consumers, say), {@link topicToSubject},
 * {@link subjectToTopic} and {@link selectorToSubject} map them safely:
 *
 * - a topic's `/`-separated segments become the subject's `.`-separated
 *   tokens, so `users/42` is `users.42`;
 * - in a segment, `A-Z`, `a-z`, `0-9` and `-` stay as they are; every other
 *   character, `_` included, becomes `_` followed by its UTF-8 bytes in two
 *   uppercase hex digits each: `a.b` is `a_2Eb`, `*` is `_2A`, `é` is `_C3_A9`;
 * - a selector's `*` segment becomes the token `*` and its `**` becomes `>`,
 *   so a selector matches a topic exactly when its subject filter matches
 *   the topic's subject.
 *
 * A mapped subject therefore holds only `[A-Za-z0-9_-]`, one token per
 * segment, never `*`, `>`, whitespace or an empty token; the mapping is
 * reversible, and only its canonical output maps back.
 *
 * @see https://docs.nats.io/nats-concepts/subjects
 */

import { assertSelector, assertTopic } from '@sse/core'

const SAFE_TOKEN = /^[A-Za-z0-9_-]+$/
const ESCAPE = 0x5f // `_`
const HEX = '0123456789ABCDEF'
const utf8 = /* @__PURE__ */ new TextEncoder()
const strictUtf8 = /* @__PURE__ */ new TextDecoder('utf-8', { fatal: true })

/**
 * Throws a `TypeError` unless `prefix` is one or more `.`-separated tokens
 * of `A-Z`, `a-z`, `0-9`, `_` and `-` (no wildcards, no empty token), at most
 * 64 characters; returns it.
 */
export function assertSubjectPrefix(prefix: unknown, what = 'subjectPrefix'): string {
  if (
    typeof prefix !== 'string' ||
    prefix.length === 0 ||
    prefix.length > 64 ||
    !prefix.split('.').every((token) => SAFE_TOKEN.test(token))
  ) {
    throw new TypeError(
      `${what} must be up to 64 characters of '.'-separated tokens of [A-Za-z0-9_-] (no '*', '>' or spaces), got ${JSON.stringify(prefix)}`,
    )
  }
  return prefix
}

/** The subject of `shard` under a valid prefix: `<prefix>.<shard>`. */
export function shardSubject(prefix: string, shard: number): string {
  return prefix + '.' + shard
}

function isKept(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    code === 0x2d // -
  )
}

function escapeSegment(segment: string): string {
  let token = ''
  for (const char of segment) {
    const code = char.codePointAt(0)!
    if (code < 0x80 && isKept(code)) {
      token += char
      continue
    }
    for (const byte of utf8.encode(char)) token += '_' + HEX[byte >> 4] + HEX[byte & 15]
  }
  return token
}

function unescapeToken(token: string, subject: string): string {
  const bytes: number[] = []
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i)
    if (code !== ESCAPE) {
      bytes.push(code)
      continue
    }
    const hi = HEX.indexOf(token[i + 1] ?? '')
    const lo = HEX.indexOf(token[i + 2] ?? '')
    if (hi < 0 || lo < 0) throw invalidSubject(subject, 'a `_` not followed by two hex digits')
    bytes.push(hi * 16 + lo)
    i += 2
  }
  let segment: string
  try {
    segment = strictUtf8.decode(new Uint8Array(bytes))
  } catch {
    throw invalidSubject(subject, 'escapes that are not UTF-8')
  }
  // Only the canonical form maps back (`_41` for `A` does not): one topic, one subject.
  if (escapeSegment(segment) !== token) throw invalidSubject(subject, 'a non-canonical escape')
  return segment
}

function invalidSubject(subject: string, why: string): TypeError {
  return new TypeError(`subjectToTopic: ${JSON.stringify(subject)} has ${why}`)
}

/**
 * The NATS subject of a topic (see the file comment for the escaping).
 * Throws a `TypeError` for an invalid topic.
 *
 * @example
 * ```ts
 * topicToSubject('users/42')      // 'users.42'
 * topicToSubject('files/a.txt')   // 'files.a_2Etxt'
 * ```
 */
export function topicToSubject(topic: string): string {
  return assertTopic(topic, 'topicToSubject: topic').split('/').map(escapeSegment).join('.')
}

/**
 * The NATS subject filter of a selector: its `*` segments become `*`, a
 * trailing `**` becomes `>`, other segments are escaped as topics are.
 * Throws a `TypeError` for an invalid selector.
 *
 * @example
 * ```ts
 * selectorToSubject('orders/*')   // 'orders.*'
 * selectorToSubject('rooms/**')   // 'rooms.>'
 * ```
 */
export function selectorToSubject(selector: string): string {
  return assertSelector(selector, 'selectorToSubject: selector')
    .split('/')
    .map((segment) => (segment === '*' ? '*' : segment === '**' ? '>' : escapeSegment(segment)))
    .join('.')
}

/**
 * The topic of a subject {@link topicToSubject} made; throws a `TypeError`
 * for any other subject (a wildcard, an empty token, a character outside
 * `[A-Za-z0-9_-]`, a malformed or non-canonical escape).
 *
 * @example
 * ```ts
 * subjectToTopic('files.a_2Etxt') // 'files/a.txt'
 * ```
 */
export function subjectToTopic(subject: string): string {
  if (typeof subject !== 'string' || subject.length === 0) {
    throw new TypeError('subjectToTopic: subject must be a non-empty string')
  }
  const tokens = subject.split('.')
  for (const token of tokens) {
    if (!SAFE_TOKEN.test(token)) {
      throw invalidSubject(subject, `a token ${JSON.stringify(token)} outside [A-Za-z0-9_-]+`)
    }
  }
  const topic = tokens.map((token) => unescapeToken(token, subject)).join('/')
  return assertTopic(topic, 'subjectToTopic: topic')
}
