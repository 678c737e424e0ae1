import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundleForRuntime, toolBin, webRuntimeDir } from '@sse/test-utils/runtimes'

export interface Launched {
  /** `http://127.0.0.1:N` */
  url: string
  stop(): Promise<void>
}

/** Bundles `src/<entry>.ts` into the tools directory, as a user's bundler would. */
function bundle(dir: string, entry: 'serve' | 'worker'): Promise<string> {
  return bundleForRuntime(dir, fileURLToPath(new URL(`../src/${entry}.ts`, import.meta.url)), {
    name: `contract-${entry}`,
    conditions: entry === 'worker' ? ['workerd', 'worker', 'import'] : ['import'],
  })
}

/**
 * Spawns `command` in a process group of its own, so that stopping it stops
 * what it started too: `npx -y node@24 …` runs the script in a grandchild,
 * which a signal to npx alone left running (with its workerd) after the
 * suite.
 */
function spawnGroup(command: string, args: string[], options: SpawnOptions): ChildProcess {
  return spawn(command, args, { ...options, detached: true })
}

/** Signals the child's whole process group (see spawnGroup). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal)
  } catch {
    child.kill(signal)
  }
}

/** Starts a child that prints `{"port":N}` on a line once it listens. */
function listening(child: ChildProcess, what: string, timeoutMs = 60_000): Promise<Launched> {
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(
      () => fail(new Error(`${what} did not start in ${timeoutMs} ms`)),
      timeoutMs,
    )
    const fail = (error: Error): void => {
      clearTimeout(timer)
      killGroup(child, 'SIGKILL')
      reject(new Error(`${error.message}\n${stderr}`))
    }
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.once('exit', (code) => fail(new Error(`${what} exited with ${code}`)))
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      const line = /\{"port":(\d+)\}/.exec(stdout)
      if (line === null) return
      clearTimeout(timer)
      child.removeAllListeners('exit')
      resolve({
        url: `http://127.0.0.1:${line[1]}`,
        stop: async () => {
          if (child.exitCode !== null) return
          const exited = new Promise((done) => child.once('exit', done))
          killGroup(child, 'SIGTERM')
          await exited
        },
      })
    })
  })
}

/** The contract app on Bun, Deno or workerd (Miniflare, on Node 24), on 127.0.0.1. */
export async function launch(runtime: 'bun' | 'deno' | 'workerd'): Promise<Launched> {
  const dir = await webRuntimeDir()
  const bin = (name: string) => toolBin(dir, name)
  if (runtime === 'bun') {
    const file = await bundle(dir, 'serve')
    return listening(spawnGroup(bin('bun'), ['run', file], { cwd: dir }), 'Bun')
  }
  if (runtime === 'deno') {
    const file = await bundle(dir, 'serve')
    return listening(spawnGroup(bin('deno'), ['run', '--allow-net', file], { cwd: dir }), 'Deno')
  }
  const file = await bundle(dir, 'worker')
  const script = join(dir, 'miniflare-serve.mjs')
  copyFileSync(fileURLToPath(new URL('./miniflare-serve.mjs', import.meta.url)), script)
  const child = spawnGroup('npx', ['-y', 'node@24', script, file], {
    cwd: dir,
    env: { ...process.env, NODE_OPTIONS: '', npm_config_yes: 'true' },
  })
  return listening(child, 'workerd (Miniflare)')
}
