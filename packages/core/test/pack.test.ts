import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'

// Packs the built package exactly as `pnpm publish` would, installs the
// tarball into a fresh project outside the workspace, and loads it the two
// ways users do. Runs after `build` (turbo's test task depends on it).
const packageDir = resolve(import.meta.dirname, '..')
let project: string

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'sse-core-pack-'))
  execFileSync('pnpm', ['pack', '--pack-destination', project], { cwd: packageDir, stdio: 'pipe' })
  const tarball = readdirSync(project).find((f) => f.endsWith('.tgz'))
  if (tarball === undefined) throw new Error('pnpm pack produced no tarball')
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }))
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', `./${tarball}`], {
    cwd: project,
    stdio: 'pipe',
  })
}, 120_000)

afterAll(() => {
  if (project !== undefined) rmSync(project, { recursive: true, force: true })
})

const script = (loader: string) => `${loader}
const frame = encode({ event: 'e', id: '1', data: 'a\\nb' })
const events = []
createParser({ onEvent: (e) => events.push(e) }).feed(frame)
let code
try { encode({ event: 'x\\ny' }) } catch (e) { code = e instanceof SseError && e.code }
console.log(JSON.stringify({ frame, events, code }))`

const expected = {
  frame: 'event: e\nid: 1\ndata: a\ndata: b\n\n',
  events: [{ type: 'e', data: 'a\nb', lastEventId: '1' }],
  code: 'SSE_INVALID_FIELD',
}

function run(file: string, source: string): unknown {
  writeFileSync(join(project, file), source)
  return JSON.parse(execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' }))
}

test('the packed tarball works from import (ESM)', () => {
  const esm = script("import { encode, createParser, SseError } from '@sse/core'")
  expect(run('esm.mjs', esm)).toEqual(expected)
})

test('the packed tarball works from require (CommonJS)', () => {
  const cjs = script("const { encode, createParser, SseError } = require('@sse/core')")
  expect(run('cjs.cjs', cjs)).toEqual(expected)
})

test('SseError from the CJS copy is instanceof the ESM copy (dual-package install)', () => {
  const both = `import { createRequire } from 'node:module'
import { SseError as EsmError, encode as esmEncode } from '@sse/core'
const { encode } = createRequire(import.meta.url)('@sse/core')
let fromCjs
try { encode({ id: 'a\\0' }) } catch (e) { fromCjs = e }
let fromEsm
try { esmEncode({ id: 'a\\0' }) } catch (e) { fromEsm = e }
console.log(JSON.stringify([fromCjs instanceof EsmError, fromEsm instanceof EsmError, fromCjs.code]))`
  expect(run('both.mjs', both)).toEqual([true, true, 'SSE_INVALID_FIELD'])
})

test('the tarball ships no tests', () => {
  const listing = execFileSync(
    'tar',
    ['-tzf', readdirSync(project).find((f) => f.endsWith('.tgz'))!],
    {
      cwd: project,
      encoding: 'utf8',
    },
  )
  expect(listing).toContain('package/dist/index.js')
  expect(listing).toContain('package/dist/index.cjs')
  expect(listing).not.toContain('package/test/')
})
