import { spawn } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import { join } from 'node:path'
import { createParser } from '@sse/core'
import { expect } from 'vitest'
import { freePort } from './ports'
import { until } from './until'

/** What {@link expectGracefulShutdown} measured. */
export interface ShutdownReport {
  /** Milliseconds from SIGTERM to the process's exit. */
  exitedAfter: number
  /** Milliseconds between the first and the last stream's end. */
  spread: number
}

/**
 * Runs a README's SIGTERM recipe (an example that listens on `PORT` and
 * drains over `DRAIN_WINDOW_MS`) in a Node process of its own, opens
 * `streams` event streams on `path`, sends SIGTERM and checks what a deploy
 * needs: every stream gets a `retry:` hint and ends, the ends spread over
 * the window, and the process then exits by itself with code 0 (its server
 * closed; nothing left holding it).
 */
export async function expectGracefulShutdown(
  packageDir: string,
  file: string,
  { path = '/news', streams = 10, windowMs = 2000 } = {},
): Promise<ShutdownReport> {
  const port = await freePort()
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@sse/source', join(packageDir, file)],
    {
      cwd: packageDir,
      env: { ...process.env, PORT: String(port), DRAIN_WINDOW_MS: String(windowMs) },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  )
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  try {
    await until(() => accepts(port), `${file} to listen on ${port}`, 20_000)
    const opened = Array.from({ length: streams }, () =>
      openStream(`http://127.0.0.1:${port}${path}`),
    )
    await until(() => opened.every((s) => s.retries.length > 0), 'every stream open', 10_000)
    const signalled = Date.now()
    child.kill('SIGTERM')
    const { code, signal } = await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`${file} did not exit after SIGTERM`)),
          windowMs + 10_000,
        ),
      ),
    ])
    const exitedAfter = Date.now() - signalled
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    await until(() => opened.every((s) => s.endedAt !== undefined), 'every stream ended', 5000)
    for (const stream of opened) {
      // The route's own hint when it opened, then the drain's jittered one.
      expect(stream.retries.length).toBe(2)
      expect(stream.retries[1]).toBeGreaterThanOrEqual(1000)
      expect(stream.retries[1]).toBeLessThanOrEqual(3000)
      expect(stream.errored).toBe(false)
    }
    const ends = opened.map((s) => s.endedAt!)
    const spread = Math.max(...ends) - Math.min(...ends)
    // n streams closed at i/n of the window: the last one (n-1)/n into it.
    // (Half of that at least: a loaded machine's late timer closes what is
    // overdue together; all at once would be ~0.)
    expect(spread).toBeGreaterThanOrEqual(((streams - 1) / streams) * windowMs * 0.5)
    expect(exitedAfter).toBeGreaterThanOrEqual(windowMs * 0.8)
    return { exitedAfter, spread }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
}

interface OpenedStream {
  retries: number[]
  endedAt: number | undefined
  errored: boolean
}

function openStream(url: string): OpenedStream {
  const stream: OpenedStream = { retries: [], endedAt: undefined, errored: false }
  const parser = createParser({ onRetry: (ms) => stream.retries.push(ms) })
  http
    .get(url, { agent: false }, (response) => {
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => parser.feed(chunk))
      response.on('end', () => {
        stream.endedAt = Date.now()
      })
      response.on('error', () => {
        stream.errored = true
      })
    })
    .on('error', () => {
      stream.errored = true
    })
  return stream
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
