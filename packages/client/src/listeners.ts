// The listener registry: EventTarget's semantics (a snapshot per dispatch,
// removal during dispatch respected, a throwing listener reported and
// skipped) without EventTarget's Event objects.

export type Listener = (...args: never[]) => void

export class Listeners {
  readonly #byType = new Map<string, Set<Listener>>()

  add(type: string, listener: Listener): void {
    if (typeof listener !== 'function') return
    let set = this.#byType.get(type)
    if (set === undefined) {
      set = new Set()
      this.#byType.set(type, set)
    }
    set.add(listener)
  }

  remove(type: string, listener: Listener): void {
    this.#byType.get(type)?.delete(listener)
  }

  /** Calls every listener of `type` with `argument`, `target` as `this`. */
  emit(type: string, argument: unknown, target: unknown): void {
    const set = this.#byType.get(type)
    if (set === undefined) return
    // A snapshot, so listeners added now wait for the next event; listeners
    // removed now are skipped, as EventTarget does.
    for (const listener of Array.from(set)) {
      if (set.has(listener)) invoke(listener, argument, target)
    }
  }
}

/** Calls a listener; a throw is reported as EventTarget does, never rethrown. */
export function invoke(listener: Listener | null, argument: unknown, target: unknown): void {
  if (typeof listener !== 'function') return
  try {
    ;(listener as (argument: unknown) => void).call(target, argument)
  } catch (error) {
    // A listener's bug must not break the stream for the others.
    reportError(error)
  }
}

export function reportError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError
  if (typeof report === 'function') report(error)
  else
    queueMicrotask(() => {
      throw error
    })
}
