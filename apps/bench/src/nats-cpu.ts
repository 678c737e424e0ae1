/**
 * nats-server's own CPU time, from Linux's `/proc/<pid>/stat` (`utime +
 * stime`, every thread of the process, in clock ticks), summed over the
 * processes given: the other {@link CpuMeter} beside Redis's `INFO cpu`
 * (`redis-cpu.ts`). NATS reports no cumulative CPU time of its own (`/varz`
 * has only a recent percentage).
 *
 * Resolution: one clock tick per process, `getconf CLK_TCK` (100 Hz, 10 ms,
 * on Linux), so a reading over a 3 s round is good to about ±10 ms per
 * process, ~0.8 µs per delivered event at 12,000 deliveries.
 */
import { execFileSync } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import type { CpuMeter } from './redis-cpu'

/** Fields of `/proc/<pid>/stat` after the command name, which may hold spaces and parentheses. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

// Fields 4, 14 and 15 of proc(5) (ppid, utime, stime), counted after the command name.
const PPID = 1
const UTIME = 11
const STIME = 12

export function processCpuMeter(pids: readonly number[]): CpuMeter {
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))
  if (!(ticksPerSecond > 0)) throw new Error('getconf CLK_TCK gave no clock tick')
  return {
    async read() {
      let ticks = 0
      for (const pid of pids) {
        const fields = statFields(await readFile(`/proc/${pid}/stat`, 'utf8'))
        ticks += Number(fields[UTIME]) + Number(fields[STIME])
      }
      return (ticks / ticksPerSecond) * 1e6
    },
    close: () => undefined,
  }
}

/**
 * The pid of this process's child `nats-server` serving clients on `port`:
 * the nats tests' cluster fixture starts its servers without telling their
 * pids, so they are found by parent and command line.
 */
export async function natsServerPid(port: number): Promise<number> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const [stat, cmdline] = await Promise.all([
      readFile(`/proc/${entry}/stat`, 'utf8'),
      readFile(`/proc/${entry}/cmdline`, 'utf8'),
      // A process that exited since the listing is not ours to find.
    ]).catch(() => ['', ''])
    if (stat === '' || Number(statFields(stat)[PPID]) !== process.pid) continue
    const argv = cmdline.split('\0')
    const p = argv.indexOf('-p')
    if (argv[0]?.endsWith('nats-server') && p !== -1 && argv[p + 1] === String(port)) {
      return Number(entry)
    }
  }
  throw new Error(`no child nats-server of this process on port ${port}`)
}
