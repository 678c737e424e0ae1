// The demo's topics, and who may read which: the authorization boundary.
//
//   users/<name>  private notices to one user (POST /notify with `to`)
//   chart         the chart's points, one producer for every instance
//   notices       broadcast notices (POST /notify without `to`)
//   presence      how many tabs each instance holds
//
// A tab's stream subscribes to its own user's topic and the shared ones,
// decided here from the request: a client never sends selectors, so it can
// never read another user's topic (or `users/*`), live or replayed.
import { HttpError } from './http'

export const CHART = 'chart'
export const NOTICES = 'notices'
export const PRESENCE = 'presence'

/** What every tab reads besides its own user's topic. */
export const SHARED_TOPICS: readonly string[] = [CHART, NOTICES, PRESENCE]

/** Lower-case letters, digits, `_` and `-`: a single topic segment, never a pattern. */
const USER_NAME = /^[a-z0-9][a-z0-9_-]{0,23}$/

/**
 * Reads a user name (lower-cased), or throws a 400: it becomes a topic
 * segment, so nothing but a plain name may get through.
 *
 * @example
 * ```ts
 * userName('Ada')   // 'ada'
 * userName('ada/*') // HttpError 400
 * ```
 */
export function userName(value: unknown, field = 'user'): string {
  const name = typeof value === 'string' ? value.toLowerCase() : ''
  if (!USER_NAME.test(name)) {
    throw new HttpError(
      400,
      `\`${field}\` must be 1 to 24 letters, digits, \`_\` or \`-\`, starting with a letter or digit`,
    )
  }
  return name
}

/** The private topic of a (valid) user name. */
export function userTopic(name: string): string {
  return `users/${name}`
}

/** The selectors a tab of `user` gets: its own topic and the shared ones, nothing else. */
export function selectorsFor(user: string): string[] {
  return [userTopic(user), ...SHARED_TOPICS]
}
