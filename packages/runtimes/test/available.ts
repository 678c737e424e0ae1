import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { webRuntimeDir } from '@sse/test-utils/runtimes'

const run = promisify(execFile)
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false'

/**
 * Whether `what` can be installed here. Under CI a runtime that cannot be
 * installed fails the run loudly (this throws); elsewhere its tests are
 * skipped with a visible message.
 */
async function available(what: string, install: () => Promise<unknown>): Promise<boolean> {
  try {
    await install()
    return true
  } catch (error) {
    const message = `${what} could not be installed from the npm registry: ${(error as Error).message}`
    if (inCi) throw new Error(`${message} (required under CI)`)
    console.warn(`@sse/runtimes: skipping the ${what} tests. ${message}`)
    return false
  }
}

/** Bun, Deno, esbuild and Miniflare with workerd, and Node 24 to run Miniflare on. */
export const webRuntimes = await available('Bun, Deno and workerd', () =>
  Promise.all([webRuntimeDir(), nodeVersion(24)]),
)

/** A Node binary of this major from the npm registry. */
export function nodeVersion(major: number): Promise<unknown> {
  return run('npx', ['-y', `node@${major}`, '--version'], {
    timeout: 180_000,
    env: { ...process.env, NODE_OPTIONS: '', npm_config_yes: 'true' },
  })
}

export const nodes = {
  22: await available('Node 22', () => nodeVersion(22)),
  24: await available('Node 24', () => nodeVersion(24)),
}
