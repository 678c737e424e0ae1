/**
 * The one timing helper every question uses: warm up, calibrate, then take
 * interleaved samples and report the median.
 */

/** One line of the combined table. A question file returns these from `run()`. */
export interface Row {
  question: string
  case: string
  contender: string
  /** Bytes per second: input bytes for a parser, output bytes for an encoder. */
  bytesPerSec: number
  eventsPerSec: number
  /** Half the range of the samples, relative to the median (`±3%`): how noisy the row was. */
  spread: string
  /** How this row compares with the others of its case, e.g. `ours / this = 2.10x`. */
  ratio: string
  /** What a row that is not a speed comparison reports besides its numbers. */
  note?: string
}

/** One contender in a comparison. */
export interface Task {
  name: string
  /** One iteration of the work. Returns how many events it parsed or frames it produced. */
  fn: () => number
  /** The count one iteration must return: a row that measures nothing throws instead. */
  expected: number
}

export interface Measured {
  name: string
  /** Median nanoseconds per iteration. */
  nsPerIteration: number
  iterationsPerSample: number
  /** Every sample, in nanoseconds per iteration (for spread). */
  samples: number[]
}

export interface MeasureOptions {
  /** @defaultValue 7 */
  samples?: number
  /** Each sample runs at least this long. @defaultValue 250 */
  sampleMs?: number
  /** Time spent warming each task up before calibrating. @defaultValue 200 */
  warmupMs?: number
}

/** Used when a question passes no options; the table header reports them. */
export const defaults = { samples: 7, sampleMs: 250, warmupMs: 200 } as const

const gc = (globalThis as { gc?: () => void }).gc

/** Whether `--expose-gc` is on, for the table header. */
export const hasGc = gc !== undefined

function now(): bigint {
  return process.hrtime.bigint()
}

function check(task: Task, got: number, iterations: number): void {
  const want = task.expected * iterations
  if (got !== want) {
    throw new Error(`${task.name}: expected ${want} events over ${iterations} runs, got ${got}`)
  }
}

/**
 * Measures tasks that answer the same case. Samples are interleaved and the
 * order rotates each round, so load from other processes on a shared machine
 * falls on every contender alike rather than on whichever ran last.
 */
export function compare(tasks: readonly Task[], options: MeasureOptions = {}): Measured[] {
  const sampleCount = options.samples ?? defaults.samples
  const sampleNs = (options.sampleMs ?? defaults.sampleMs) * 1e6
  const warmupNs = BigInt(Math.round((options.warmupMs ?? defaults.warmupMs) * 1e6))

  // Warm up until the JIT has settled, and learn how many iterations fill a sample.
  const iterations = tasks.map((task) => {
    let runs = 0
    let got = 0
    const start = now()
    let elapsed = 0n
    while (elapsed < warmupNs || runs < 2) {
      got += task.fn()
      runs++
      elapsed = now() - start
    }
    check(task, got, runs)
    return Math.max(1, Math.ceil(sampleNs / (Number(elapsed) / runs)))
  })

  const samples: number[][] = tasks.map(() => [])
  for (let round = 0; round < sampleCount; round++) {
    for (let k = 0; k < tasks.length; k++) {
      const index = (k + round) % tasks.length
      const task = tasks[index]!
      const runs = iterations[index]!
      gc?.()
      let got = 0
      const start = now()
      for (let i = 0; i < runs; i++) got += task.fn()
      const elapsed = Number(now() - start)
      check(task, got, runs)
      samples[index]!.push(elapsed / runs)
    }
  }

  return tasks.map((task, index) => ({
    name: task.name,
    nsPerIteration: median(samples[index]!),
    iterationsPerSample: iterations[index]!,
    samples: samples[index]!,
  }))
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Deterministic PRNG (mulberry32), so every run measures the same corpus. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function spread(measured: Measured): string {
  const min = Math.min(...measured.samples)
  const max = Math.max(...measured.samples)
  return `±${Math.round(((max - min) / 2 / measured.nsPerIteration) * 100)}%`
}

/** How many times faster `ours` is than `other` (below 1 means slower). */
export function formatRatio(ours: Measured, other: Measured): string {
  return `${(other.nsPerIteration / ours.nsPerIteration).toFixed(2)}x`
}
