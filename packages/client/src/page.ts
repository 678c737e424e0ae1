// `hidden: 'close'`: the page whose visibility a stream follows.

/** What a stream reads of the page. */
export type Page = Pick<Document, 'visibilityState' | 'addEventListener' | 'removeEventListener'>

/**
 * The page `hidden: 'close'` watches: `undefined` for `'keep'` (the default)
 * and where there is no `document` (Node, workers). `caller` names the
 * function in the error for any other value.
 */
export function pageToWatch(hidden: unknown, caller: string): Page | undefined {
  const policy = hidden ?? 'keep'
  if (policy !== 'keep' && policy !== 'close')
    throw new TypeError(`${caller}: \`hidden\` must be 'keep' or 'close'`)
  return policy === 'close' ? (globalThis as { document?: Page }).document : undefined
}
