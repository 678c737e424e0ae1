/**
 * Typed events, end to end: one event map shared by server and client (event
 * name → the data sent with it; `message` is the unnamed event). With it,
 * `session.send` and `hub.publish` check names and data, and the client's
 * listeners and loops narrow on `type` (see `@sse/client`).
 *
 * @example
 * ```ts
 * export type Events = { price: { symbol: string; usd: number }; message: string }
 * const hub = createHub<Events>()
 * await hub.publish('prices/acme', { symbol: 'ACME', usd: 1 }, { event: 'price' })
 * ```
 */
export type EventMap = Record<string, unknown>

/** The event names of `E` (for an untyped map, any string). */
export type EventName<E extends EventMap> = keyof E & string

/** Whether `E` is the untyped map (any name, any data). */
type Untyped<E extends EventMap> = string extends keyof E ? true : false

/**
 * The options argument of a typed send or publish: optional for `message`
 * (and for an untyped map), required with its `event` for any other name.
 */
export type TypedArgs<E extends EventMap, K extends string, Options> =
  Untyped<E> extends true
    ? [options?: Options]
    : K extends 'message'
      ? [options?: Options & { event?: 'message' | undefined }]
      : [options: Options & { event: K }]
