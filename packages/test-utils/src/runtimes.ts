import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const repoRoot = resolve(import.meta.dirname, '../../..')

/**
 * A directory with `packages` installed from the npm registry, outside the
 * workspace (their engines may need a newer Node than the repo's own
 * toolchain, which `engine-strict` would refuse): the real runtimes and
 * tools that tests drive as separate processes. Kept under
 * `node_modules/.cache`, so it is installed once per checkout.
 *
 * @example
 * ```ts
 * const dir = await toolDir('workerd', ['miniflare@4', 'esbuild@0.27'])
 * ```
 */
export async function toolDir(name: string, packages: string[]): Promise<string> {
  const dir = join(repoRoot, 'node_modules', '.cache', 'sse-tools', name)
  const marker = join(dir, `.installed-${packages.join('+').replace(/[^\w.@+-]/g, '_')}`)
  if (existsSync(marker)) return dir
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'package.json'), '{ "private": true }\n')
  // Not the workspace's npm settings (pnpm passes its own, engine-strict among
  // them, to scripts): these packages may declare a newer Node than the one
  // installing them.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_config_')),
  )
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--no-save',
      '--prefer-offline',
      '--engine-strict=false',
      ...packages,
    ],
    { cwd: dir, env, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
  )
  writeFileSync(marker, '')
  return dir
}

/** Bun, Deno, esbuild and Miniflare with workerd: what the Web runtimes' tests and benchmarks run on. */
export const WEB_RUNTIME_TOOLS = ['bun@1.4', 'deno@2.9', 'esbuild@0.27', 'miniflare@4']

/** The directory holding {@link WEB_RUNTIME_TOOLS}, installed on first use. */
export function webRuntimeDir(): Promise<string> {
  return toolDir('web-runtimes', WEB_RUNTIME_TOOLS)
}

/** The path of a binary (`bun`, `deno`) in a {@link toolDir}. */
export function toolBin(dir: string, name: string): string {
  return join(dir, 'node_modules', '.bin', name)
}

/**
 * Bundles `entry` the way a user's bundler would (the built `@sse/*`
 * packages and everything else it imports) into one ESM file in `dir`, a
 * {@link webRuntimeDir}, for Bun, Deno or workerd to run. Resolves with the
 * file's path. A `node:` import fails the bundle unless `nodeModules` is
 * set (then it stays an import, for Bun's and Deno's own).
 */
export async function bundleForRuntime(
  dir: string,
  entry: string,
  options: { name: string; conditions?: string[]; nodeModules?: boolean },
): Promise<string> {
  // Installed with the runtimes, not in the workspace: typed by hand.
  const { build } = createRequire(join(dir, 'package.json'))('esbuild') as {
    build(options: Record<string, unknown>): Promise<unknown>
  }
  const outfile = join(dir, `${options.name}.mjs`)
  await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: options.conditions ?? ['import'],
    external: options.nodeModules === true ? ['node:*'] : [],
    outfile,
    logLevel: 'error',
  })
  return outfile
}

/**
 * Runs `node <script> ...args` on Node `major` (22 or 24), a binary from the
 * npm registry's `node` package (`npx -y node@24`), and resolves with its
 * stdout. Rejects with its stderr when it exits non-zero.
 */
export async function runOnNode(
  major: number,
  script: string,
  args: string[],
  options: { cwd: string; timeoutMs?: number },
): Promise<string> {
  const { stdout } = await run('npx', ['-y', `node@${major}`, script, ...args], {
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, NODE_OPTIONS: '', npm_config_yes: 'true' },
  })
  return stdout
}
