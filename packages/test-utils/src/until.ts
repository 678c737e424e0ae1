/**
 * Polls `condition` every few milliseconds until it holds; rejects naming
 * `what` after `timeoutMs`. Tests wait for a condition, never for a time.
 *
 * @example
 * ```ts
 * await until(() => client.messages().length === 3, 'three events')
 * ```
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what = 'the condition',
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
