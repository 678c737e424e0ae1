/**
 * CPU profiles of the measured windows only: with `TOPICS_CPU_PROF=<dir>`,
 * `begin` starts the V8 profiler and `end` writes
 * `<dir>/<name>-<topics>-topics-<n>.cpuprofile` (open it in Chrome DevTools
 * or speedscope). Unlike `node --cpu-prof`, connecting and disconnecting
 * thousands of clients between rounds stays out of the profile.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'

export interface RoundProfiler {
  begin(topics: number): Promise<void>
  end(): Promise<void>
}

/** A profiler when `TOPICS_CPU_PROF` names a directory, else `undefined`. */
export function roundProfiler(name: string): RoundProfiler | undefined {
  const dir = process.env['TOPICS_CPU_PROF']
  if (dir === undefined) return undefined
  const session = new Session()
  session.connect()
  let file = ''
  let rounds = 0
  return {
    async begin(topics) {
      file = join(dir, `${name}-${topics}-topics-${++rounds}.cpuprofile`)
      await session.post('Profiler.enable')
      await session.post('Profiler.start')
    },
    async end() {
      const { profile } = await session.post('Profiler.stop')
      await mkdir(dir, { recursive: true })
      await writeFile(file, JSON.stringify(profile))
    },
  }
}
