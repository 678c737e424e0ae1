import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'

// Every published package, packed exactly as `pnpm publish` would (workspace
// ranges become real versions), installed together into a fresh project
// outside the workspace, and loaded both ways users load it. Runs after every
// package's build (turbo: this package's test depends on ^build).
const packagesDir = resolve(import.meta.dirname, '../..')
const published: Record<string, string> = {
  '@sse/core': 'createHub',
  '@sse/node-http': 'sse',
  '@sse/express': 'sse',
  '@sse/koa': 'sse',
  '@sse/fastify': 'fastifySse',
  '@sse/hono': 'sse',
  '@sse/redis': 'createRedisEngine',
  '@sse/nats': 'createNatsEngine',
  '@sse/client': 'connect',
  '@sse/react': 'useEventSource',
  '@sse/opentelemetry': 'registerMetrics',
}
let project: string

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'sse-pack-all-'))
  for (const name of Object.keys(published)) {
    const dir = join(packagesDir, name.slice('@sse/'.length))
    execFileSync('pnpm', ['pack', '--pack-destination', project], { cwd: dir, stdio: 'pipe' })
  }
  const tarballs = readdirSync(project).filter((f) => f.endsWith('.tgz'))
  expect(tarballs).toHaveLength(Object.keys(published).length)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }))
  // Peers are the user's choice; install only the three these modules load at
  // runtime (the framework adapters import their frameworks as types only).
  execFileSync(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--legacy-peer-deps',
      ...tarballs.map((t) => `./${t}`),
      'ioredis@^6',
      'react@^19',
      '@opentelemetry/api@^1.9',
    ],
    { cwd: project, stdio: 'pipe' },
  )
}, 180_000)

afterAll(() => {
  if (project !== undefined) rmSync(project, { recursive: true, force: true })
})

function run(file: string, source: string): Record<string, string> {
  writeFileSync(join(project, file), source)
  return JSON.parse(execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' }))
}

const expected = Object.fromEntries(Object.keys(published).map((name) => [name, 'function']))

test('every package loads from import (ESM) with its main export', () => {
  const lines = Object.entries(published).map(
    ([name, symbol], i) =>
      `import { ${symbol} as m${i} } from '${name}'\nout['${name}'] = typeof m${i}`,
  )
  expect(
    run('all.mjs', `const out = {}\n${lines.join('\n')}\nconsole.log(JSON.stringify(out))`),
  ).toEqual(expected)
})

test('every package loads from require (CommonJS) with its main export', () => {
  const lines = Object.entries(published).map(
    ([name, symbol]) => `out['${name}'] = typeof require('${name}').${symbol}`,
  )
  expect(
    run('all.cjs', `const out = {}\n${lines.join('\n')}\nconsole.log(JSON.stringify(out))`),
  ).toEqual(expected)
})

for (const [format, file, load] of [
  [
    'require (CommonJS)',
    'shared.cjs',
    "const { createHub } = require('@sse/core')\nconst { sse } = require('@sse/node-http')",
  ],
  [
    'import (ESM)',
    'shared.mjs',
    "import { createHub } from '@sse/core'\nimport { sse } from '@sse/node-http'",
  ],
] as const) {
  test(`from ${format}, the adapters share one @sse/core: sse() subscribes a session to a core hub over real HTTP`, () => {
    const source = `${load}
${format.startsWith('import') ? "import http from 'node:http'" : "const http = require('node:http')"}
const hub = createHub()
const server = http.createServer(
  sse(
    async (session) => {
      await hub.subscribe(session, 'news').ready
      await hub.publish('news', 'shared')
    },
    { heartbeat: false },
  ),
)
server.listen(0, '127.0.0.1', () => {
  http.get({ port: server.address().port, host: '127.0.0.1' }, (res) => {
    let text = ''
    res.on('data', (chunk) => {
      text += chunk
      if (!text.includes('data: shared')) return
      console.log(JSON.stringify({ size: String(hub.size), text }))
      res.destroy()
      server.close()
    })
  })
})`
    const { size, text } = run(file, source) as { size: string; text: string }
    expect(size).toBe('1')
    // The retry hint, the starting position, then the event with its id.
    expect(text).toMatch(/^retry: 2000\nid: 0:(\w+)-0\n\nid: 0:\1-1\ndata: shared\n\n$/)
  })
}
