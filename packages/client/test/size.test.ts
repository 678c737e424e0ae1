// What a browser downloads: the README's Size table, measured again from the
// built packages the way it says (esbuild --bundle --minify, @sse/core
// inlined, gzip -9), and the server half of @sse/core kept out of it.
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { expect, test } from 'vitest'

const here = fileURLToPath(new URL('..', import.meta.url))

async function bundle(entry: string, resolveDir = here): Promise<string> {
  const result = await build({
    stdin: { contents: entry, resolveDir, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  })
  return result.outputFiles[0]!.text
}

/** The README's rows: the import in backticks, minified and gzipped bytes. */
async function readmeSizes(): Promise<Array<{ row: string; minified: number; gzipped: number }>> {
  const readme = await readFile(join(here, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Size'))
  return [...section.matchAll(/^\| (.+?) \| ([\d,]+) B \| ([\d,]+) B \|$/gm)].map((match) => ({
    row: match[1]!,
    minified: Number(match[2]!.replaceAll(',', '')),
    gzipped: Number(match[3]!.replaceAll(',', '')),
  }))
}

const ENTRIES: Record<string, string> = {
  '`connect`': "export { connect } from '@sse/client'",
  'all of `@sse/client`': "export * from '@sse/client'",
  '`connectShared`': "export { connectShared } from '@sse/client/shared'",
}

test("the README's sizes are what esbuild and gzip -9 give now (within 2%)", async () => {
  const rows = await readmeSizes()
  expect(rows).toHaveLength(3)
  const measured: string[] = []
  for (const { row, minified, gzipped } of rows) {
    const name = Object.keys(ENTRIES).find((key) => row.startsWith(key))
    expect(name, row).toBeDefined()
    const code = await bundle(ENTRIES[name!]!)
    const sizes = { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length }
    measured.push(`${row}: ${sizes.minified} B, ${sizes.gzipped} B`)
    expect(Math.abs(sizes.minified / minified - 1), measured.join('\n')).toBeLessThan(0.02)
    expect(Math.abs(sizes.gzipped / gzipped - 1), measured.join('\n')).toBeLessThan(0.02)
  }
})

// A class with symbol-named members, a frozen object or a spread at the top
// level of core made esbuild keep sessions and the encoder in every client:
// 22 kB where the parser needs 13.
test('a client bundle leaves out the server half of @sse/core (sessions, encoder, hub)', async () => {
  const code = await bundle("export { connectShared } from '@sse/client/shared'")
  for (const server of ['createSession:', 'SSE `id`', 'createHub', 'text/event-stream; charset'])
    expect(code).not.toContain(server)
})

test('nothing at the top level of @sse/core runs on import: a bundle that imports it alone is empty', async () => {
  // Copied out of the package: its `sideEffects: false` would drop the
  // import whatever the code does, and the code itself is what is checked.
  const dir = await mkdtemp(join(tmpdir(), 'sse-shake-'))
  try {
    await copyFile(join(here, '../core/dist/index.js'), join(dir, 'core.js'))
    await writeFile(join(dir, 'package.json'), '{"type":"module"}')
    expect(await bundle("import './core.js'", dir)).toBe('')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
