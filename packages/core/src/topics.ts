/**
 * Topics and selectors.
 *
 * A topic names one audience: `users/42`, `orders/7`, `rooms/lobby`. It is
 * one or more segments separated by `/`; a segment is any text without `/`,
 * `*` or control characters, and is never empty.
 *
 * A selector picks topics: a topic itself (exact match), or a pattern whose
 * segments may be `*` (exactly one segment) or, last only, `**` (one or more
 * segments). `orders/*` matches `orders/7` but not `orders/7/items`;
 * `orders/**` matches both, never `orders` itself. The same shapes as NATS
 * subjects' `*` and `>`, and Mercure's URI templates' `{id}` and `{+path}`.
 *
 * @see https://mercure.rocks/spec#topic-selectors
 */

/** The longest topic or selector, in UTF-16 code units. */
export const MAX_TOPIC_LENGTH = 256

/** The most segments a topic or selector may have. */
export const MAX_TOPIC_SEGMENTS = 32

const SEPARATOR = '/'
const STAR = '*'
const DEEP = '**'

// C0 controls and DEL: never part of a topic (they could forge log lines,
// and a NUL ends a string in many stores).
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}

/**
 * Throws a `TypeError` naming what is wrong with `topic`, or returns it.
 *
 * @example
 * ```ts
 * assertTopic('users/42') // 'users/42'
 * assertTopic('users/*')  // TypeError: a topic cannot contain '*'
 * ```
 */
export function assertTopic(topic: unknown, what = 'topic'): string {
  const text = checkShape(topic, what)
  if (text.includes(STAR)) {
    throw new TypeError(`${what} ${quote(text)}: a topic cannot contain '*' (only selectors can)`)
  }
  return text
}

/**
 * Throws a `TypeError` naming what is wrong with `selector`, or returns it.
 *
 * @example
 * ```ts
 * assertSelector('orders/*')  // 'orders/*'
 * assertSelector('orders/**') // 'orders/**'
 * assertSelector('**\/items')  // TypeError: '**' only as the last segment
 * ```
 */
export function assertSelector(selector: unknown, what = 'selector'): string {
  const text = checkShape(selector, what)
  if (!text.includes(STAR)) return text
  const segments = text.split(SEPARATOR)
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!
    if (segment === DEEP && i !== segments.length - 1) {
      throw new TypeError(`${what} ${quote(text)}: '**' may only be the last segment`)
    }
    if (segment !== STAR && segment !== DEEP && segment.includes(STAR)) {
      throw new TypeError(
        `${what} ${quote(text)}: '*' must be a whole segment ('orders/*', not 'orders/7*')`,
      )
    }
  }
  return text
}

/** Whether a valid selector is a pattern (has a `*` or `**` segment). */
export function isPattern(selector: string): boolean {
  return selector.includes(STAR)
}

/**
 * Whether a valid selector matches a valid topic.
 *
 * @example
 * ```ts
 * selectorMatches('orders/*', 'orders/7')  // true
 * selectorMatches('orders/**', 'orders')   // false
 * ```
 */
export function selectorMatches(selector: string, topic: string): boolean {
  if (!isPattern(selector)) return selector === topic
  const want = selector.split(SEPARATOR)
  const have = topic.split(SEPARATOR)
  for (let i = 0; i < want.length; i++) {
    const segment = want[i]!
    if (segment === DEEP) return have.length > i
    if (i >= have.length || (segment !== STAR && segment !== have[i])) return false
  }
  return want.length === have.length
}

function checkShape(value: unknown, what: string): string {
  if (typeof value !== 'string')
    throw new TypeError(`${what} must be a string, got ${typeof value}`)
  if (value.length === 0) throw new TypeError(`${what} must not be empty`)
  if (value.length > MAX_TOPIC_LENGTH) {
    throw new TypeError(
      `${what} ${quote(value.slice(0, 40))}…: longer than ${MAX_TOPIC_LENGTH} characters`,
    )
  }
  if (hasControl(value)) throw new TypeError(`${what} ${quote(value)}: control characters`)
  let segments = 1
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) !== 0x2f) continue
    if (i === 0 || i === value.length - 1 || value.charCodeAt(i - 1) === 0x2f) {
      throw new TypeError(
        `${what} ${quote(value)}: empty segment (leading, trailing or double '/')`,
      )
    }
    segments++
  }
  if (segments > MAX_TOPIC_SEGMENTS) {
    throw new TypeError(`${what} ${quote(value)}: more than ${MAX_TOPIC_SEGMENTS} segments`)
  }
  return value
}

function quote(text: string): string {
  return JSON.stringify(text)
}

/** A node of the pattern trie: one segment deeper per level. */
interface TrieNode<M> {
  children: Map<string, TrieNode<M>> | undefined
  star: TrieNode<M> | undefined
  // Members whose pattern ends here, and those whose pattern ends here with `**`.
  here: Set<M> | undefined
  deep: Set<M> | undefined
}

function node<M>(): TrieNode<M> {
  return { children: undefined, star: undefined, here: undefined, deep: undefined }
}

/**
 * Who listens to which topic: exact selectors in a map, patterns in a trie of
 * segments. Matching a topic costs the topic's segments plus the members it
 * finds (and the trie's `*` branches), never a scan of every member.
 */
export class TopicIndex<M> {
  readonly #exact = new Map<string, Set<M>>()
  readonly #root: TrieNode<M> = node()
  #patterns = 0

  /** How many distinct exact topics have listeners. */
  get topics(): number {
    return this.#exact.size
  }

  /** Whether any pattern is indexed (when none, a topic's members are exactly {@link exact}). */
  get hasPatterns(): boolean {
    return this.#patterns > 0
  }

  /** The members with exactly this topic as a selector. */
  exact(topic: string): ReadonlySet<M> | undefined {
    return this.#exact.get(topic)
  }

  /** Whether no selector is indexed (the trie has been pruned back to its root). */
  isEmpty(): boolean {
    return this.#exact.size === 0 && this.#patterns === 0 && isEmpty(this.#root)
  }

  /** Adds `member` under a valid selector. */
  add(selector: string, member: M): void {
    if (!isPattern(selector)) {
      const set = this.#exact.get(selector)
      if (set === undefined) this.#exact.set(selector, new Set([member]))
      else set.add(member)
      return
    }
    let at = this.#root
    const segments = selector.split(SEPARATOR)
    const last = segments.length - 1
    for (let i = 0; i < last; i++) at = child(at, segments[i]!)
    const end = segments[last]!
    let set: Set<M>
    if (end === DEEP) {
      at.deep ??= new Set()
      set = at.deep
    } else {
      const leaf = child(at, end)
      leaf.here ??= new Set()
      set = leaf.here
    }
    if (set.has(member)) return
    set.add(member)
    this.#patterns++
  }

  /** Removes `member` from under a selector, dropping nodes left empty. */
  remove(selector: string, member: M): void {
    if (!isPattern(selector)) {
      const set = this.#exact.get(selector)
      if (set?.delete(member) && set.size === 0) this.#exact.delete(selector)
      return
    }
    const segments = selector.split(SEPARATOR)
    const path: TrieNode<M>[] = [this.#root]
    const last = segments.length - 1
    for (let i = 0; i < last; i++) {
      const next = step(path[i]!, segments[i]!)
      if (next === undefined) return
      path.push(next)
    }
    const end = segments[last]!
    let removed: boolean | undefined
    if (end === DEEP) removed = path[last]!.deep?.delete(member)
    else {
      const leaf = step(path[last]!, end)
      if (leaf === undefined) return
      path.push(leaf)
      removed = leaf.here?.delete(member)
    }
    if (!removed) return
    this.#patterns--
    // Prune from the deepest node up while nodes hold nothing.
    for (let i = path.length - 1; i > 0; i--) {
      const at = path[i]!
      if (!isEmpty(at)) break
      const parent = path[i - 1]!
      const segment = segments[i - 1]!
      if (segment === STAR) parent.star = undefined
      else {
        parent.children!.delete(segment)
        if (parent.children!.size === 0) parent.children = undefined
      }
    }
    const root = this.#root
    if (root.deep?.size === 0) root.deep = undefined
  }

  /** Calls `visit` for every member with a selector matching `topic` (a member may come more than once). */
  match(topic: string, visit: (member: M) => void): void {
    const exact = this.#exact.get(topic)
    if (exact !== undefined) for (const member of exact) visit(member)
    if (this.#patterns === 0) return
    walk(this.#root, topic.split(SEPARATOR), 0, visit)
  }
}

function child<M>(at: TrieNode<M>, segment: string): TrieNode<M> {
  if (segment === STAR) {
    at.star ??= node()
    return at.star
  }
  at.children ??= new Map()
  const known = at.children.get(segment)
  if (known !== undefined) return known
  const next = node<M>()
  at.children.set(segment, next)
  return next
}

function step<M>(at: TrieNode<M>, segment: string): TrieNode<M> | undefined {
  return segment === STAR ? at.star : at.children?.get(segment)
}

function isEmpty<M>(at: TrieNode<M>): boolean {
  return (
    (at.children === undefined || at.children.size === 0) &&
    at.star === undefined &&
    (at.here === undefined || at.here.size === 0) &&
    (at.deep === undefined || at.deep.size === 0)
  )
}

function walk<M>(at: TrieNode<M>, segments: string[], i: number, visit: (member: M) => void): void {
  // `**` here matches the one or more segments that remain.
  if (at.deep !== undefined && i < segments.length) for (const member of at.deep) visit(member)
  if (i === segments.length) {
    if (at.here !== undefined) for (const member of at.here) visit(member)
    return
  }
  const exact = at.children?.get(segments[i]!)
  if (exact !== undefined) walk(exact, segments, i + 1, visit)
  if (at.star !== undefined) walk(at.star, segments, i + 1, visit)
}
