import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { basename, join } from 'node:path'
import ts from 'typescript'
import { onTestFinished } from 'vitest'

/** One code example of a README: the file it shows, and its text. */
export interface ReadmeExample {
  /** Path relative to the package, e.g. `examples/news.ts`. */
  file: string
  /** Absolute path. */
  path: string
  /** The bare packages it imports (`express`, `@sse/core`), no `node:` builtins. */
  imports: string[]
}

const FENCE = /^```(\w*)\n([\s\S]*?)^```$/gm
const MARKER = /<!--\s*example:\s*(\S+)\s*-->\s*$/

/**
 * Checks a package's README against its example files, and returns the
 * examples. Every TypeScript or JavaScript block must follow an
 * `<!-- example: examples/name.ts -->` line and be exactly that file, so
 * what the README shows is what CI type-checks and runs. Every `npm install`
 * line must name every package the README's examples import (users copy
 * the line, then the code).
 *
 * Throws an Error naming the first block that breaks a rule.
 *
 * @example
 * ```ts
 * const examples = readmeExamples(new URL('..', import.meta.url).pathname)
 * ```
 */
export function readmeExamples(packageDir: string, readme = 'README.md'): ReadmeExample[] {
  const text = readFileSync(join(packageDir, readme), 'utf8')
  const examples: ReadmeExample[] = []
  const installs: Array<{ line: string; names: Set<string> }> = []
  for (const match of text.matchAll(FENCE)) {
    const [, lang = '', body = ''] = match
    const before = text.slice(0, match.index).trimEnd().split('\n').at(-1) ?? ''
    if (['ts', 'tsx', 'js', 'jsx', 'typescript', 'javascript'].includes(lang)) {
      const marker = MARKER.exec(before)
      if (marker === null) {
        throw new Error(
          `${readme}: a ${lang} block without an <!-- example: file --> marker:\n${body.slice(0, 200)}`,
        )
      }
      const file = marker[1]!
      const path = join(packageDir, file)
      const source = readFileSync(path, 'utf8')
      if (source.trim() !== body.trim()) {
        throw new Error(`${readme}: the block marked ${file} is not that file's text`)
      }
      examples.push({ file, path, imports: bareImports(source) })
    } else if (['sh', 'bash', 'shell', ''].includes(lang)) {
      for (const line of body.split('\n')) {
        const install = /^\s*(?:npm (?:install|i)|pnpm add|yarn add|bun add)\s+(.*)$/.exec(line)
        if (install === null) continue
        const names = new Set(
          install[1]!
            .split(/\s+/)
            .filter((word) => word !== '' && !word.startsWith('-'))
            .map(packageName),
        )
        installs.push({ line, names })
      }
    }
  }
  if (examples.length > 0 && installs.length > 0) {
    const installed = new Set(installs.flatMap(({ names }) => [...names]))
    const missing = [...new Set(examples.flatMap((e) => e.imports))].filter(
      (name) => !installed.has(name) && !DEV_ONLY.has(name),
    )
    if (missing.length > 0) {
      throw new Error(`${readme}: the install line(s) miss ${missing.join(', ')}`)
    }
  }
  return examples
}

// Test-runner imports of a testing example are not part of an install line
// for the library (the README says to add them as dev dependencies).
const DEV_ONLY = new Set(['vitest'])

/** `@scope/name@^1` or `name@1` → the package name. */
function packageName(spec: string): string {
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0)
  return at === -1 ? spec : spec.slice(0, at)
}

function bareImports(source: string): string[] {
  const found = new Set<string>()
  const info = ts.preProcessFile(source, true, true)
  for (const { fileName } of info.importedFiles) {
    if (fileName.startsWith('.') || fileName.startsWith('node:')) continue
    const parts = fileName.split('/')
    const name = fileName.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
    if (builtinModules.includes(name)) continue
    found.add(name)
  }
  return [...found].sort()
}

/**
 * Compiles an example to CommonJS (as a user's `tsc` with `"module":
 * "commonjs"` would), loads it with `require` in a fresh Node process, and
 * runs `driver(exports, require)` there; resolves with what the driver
 * returns (JSON). `@sse/*` packages resolve through their `require`
 * condition to the built `dist/index.cjs`, as they do for users: the test
 * runner's own source conditions do not reach the child. A top-level
 * `await` or any other ESM-only construct fails here.
 *
 * The driver is sent as source text: it must not use anything from the
 * test file's scope (use its `require` argument).
 *
 * @example
 * ```ts
 * const port = await runAsCommonJs(packageDir, example, async (mod) => mod.server.address().port)
 * ```
 */
export async function runAsCommonJs<T>(
  packageDir: string,
  example: ReadmeExample,
  // biome-ignore lint/suspicious/noExplicitAny: the example's exports, as untyped as require's.
  driver: (exports: any, require: NodeJS.Require) => Promise<T> | T,
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<T> {
  const { timeoutMs = 20_000, env = {} } = options
  const source = readFileSync(example.path, 'utf8')
  const output = ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      jsx: ts.JsxEmit.ReactJSX,
    },
    reportDiagnostics: true,
    fileName: example.path,
  })
  const problems = output.diagnostics ?? []
  if (problems.length > 0) {
    const messages = problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
    throw new Error(`${example.file} does not compile to CommonJS: ${messages.join('; ')}`)
  }
  // Inside the package (not under node_modules), so that the package can
  // require itself by name, as Node allows for packages with `exports`.
  const dir = join(packageDir, '.examples-cjs')
  mkdirSync(dir, { recursive: true })
  const name = basename(example.path).replace(/\.[cm]?[jt]sx?$/, '')
  const file = join(dir, `${name}.cjs`)
  writeFileSync(file, output.outputText)
  const runner = join(dir, `${name}.run.cjs`)
  writeFileSync(
    runner,
    [
      '"use strict"',
      // The test runner may wrap functions in a name-keeping helper.
      'const __name = (f) => f',
      `const driver = ${driver.toString()}`,
      `Promise.resolve(driver(require(${JSON.stringify(file)}), require)).then(`,
      '  (result) => { process.stdout.write(JSON.stringify(result ?? null)); process.exit(0) },',
      '  (error) => { process.stderr.write(String(error?.stack ?? error)); process.exit(1) },',
      ')',
    ].join('\n'),
  )
  const child = spawn(process.execPath, [runner], {
    cwd: packageDir,
    env: { ...process.env, PORT: '0', NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code] = (await once(child, 'exit')) as [number | null]
  clearTimeout(timer)
  if (code !== 0) {
    throw new Error(`${example.file} as CommonJS failed (exit ${code}):\n${stderr}`)
  }
  return JSON.parse(stdout) as T
}

/** A server an example started (`http`, `https` or `http2`). */
interface ExampleServer extends NodeJS.EventEmitter {
  listening: boolean
  address(): unknown
  close(): unknown
  closeAllConnections?(): void
}

/**
 * Waits until a server an example started listens, and returns its URL on
 * 127.0.0.1 (`https` with `tls`); the server is closed when the current test
 * ends.
 *
 * @example
 * ```ts
 * const url = await exampleUrl((await import('../examples/news')).server)
 * ```
 */
export async function exampleUrl(server: ExampleServer, scheme = 'http'): Promise<string> {
  if (!server.listening) await once(server, 'listening')
  onTestFinished(() => {
    server.closeAllConnections?.()
    server.close()
  })
  return `${scheme}://127.0.0.1:${(server.address() as { port: number }).port}`
}
