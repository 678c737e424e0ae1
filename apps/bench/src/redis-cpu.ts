/**
 * A broker's own CPU time: read it before and after a measurement and take
 * the difference. Redis's comes from `INFO cpu` (`used_cpu_sys +
 * used_cpu_user`, in seconds since it started, to the microsecond), here;
 * nats-server's from `/proc` (`nats-cpu.ts`).
 */
import { Redis } from 'ioredis'

/** CPU used so far by a broker's processes or nodes. */
export interface CpuMeter {
  /** Microseconds of CPU the nodes have used so far, summed. */
  read(): Promise<number>
  close(): void
}

/** Redis's CPU, summed over the nodes on `ports` of 127.0.0.1. */
export function cpuMeter(ports: readonly number[]): CpuMeter {
  const clients = ports.map((port) => new Redis({ port, host: '127.0.0.1' }))
  return {
    async read() {
      const infos = await Promise.all(clients.map((redis) => redis.info('cpu')))
      let seconds = 0
      for (const info of infos) {
        for (const field of ['used_cpu_sys', 'used_cpu_user']) {
          const value = new RegExp(`^${field}:([0-9.]+)`, 'm').exec(info)?.[1]
          if (value === undefined) throw new Error(`INFO cpu has no ${field}`)
          seconds += Number(value)
        }
      }
      return seconds * 1e6
    },
    close() {
      for (const redis of clients) redis.disconnect()
    },
  }
}
