/**
 * Runs every question and prints one markdown table, also written to
 * `results/latest.md`. `pnpm bench` runs them all; `pnpm bench parse` runs
 * only the named questions (and leaves `results/latest.md` alone).
 * `pnpm bench --node 24 parse` runs the cases on another Node (a binary from
 * the npm registry's `node` package); on Node >= 22.12 the parse question
 * also measures eventsource-parser's newest 4.x, which needs it.
 *
 * Each case runs in a fresh Node process: V8 shares type feedback between all
 * parsers a process creates, so a case that feeds 1-byte chunks would
 * otherwise slow down every case measured after it, in an order-dependent way.
 *
 * To add a question, add a file that exports `question`, `cases` and
 * `run(caseName): Promise<Row[]>`, and list it below.
 */
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { toolDir } from '@sse/test-utils/runtimes'
import { defaults, hasGc, type Row } from './measure'

interface Question {
  question: string
  /** Names of the cases, each measured in its own process. */
  cases: readonly string[]
  run(caseName: string): Promise<Row[]>
}

/**
 * Loaded on demand: a case's process loads only its own question. ioredis
 * (which the Redis questions load) declares `class … extends String`, and
 * that alone makes V8's string builtins 2-5x slower in the whole process
 * (charCodeAt 5x, indexOf and slice 2-3x, on Node 20 and 24): a parser
 * measured beside it would be measured in a slowed-down process.
 */
const modules: Record<string, () => Promise<Question>> = {
  parse: () => import('./parse'),
  encode: () => import('./encode'),
  send: () => import('./send'),
  broadcast: () => import('./broadcast'),
  fanout: () => import('./fanout'),
  redis: () => import('./redis'),
  topics: () => import('./topics'),
  'slow-client': () => import('./slow-client'),
  storm: () => import('./storm'),
}

const CHILD = '--case'

async function runChild(question: string, caseName: string): Promise<void> {
  const q = await modules[question]?.()
  if (!q?.cases.includes(caseName)) throw new Error(`No case ${question} ${caseName}`)
  process.stdout.write(JSON.stringify(await q.run(caseName)))
}

/** The Node that runs the cases: this one, or `--node <major>` from the npm registry. */
interface CaseRuntime {
  execPath: string
  version: string
  env: NodeJS.ProcessEnv
}

const exec = promisify(execFile)

async function caseRuntime(major: string | undefined): Promise<CaseRuntime> {
  if (major === undefined)
    return { execPath: process.execPath, version: process.version, env: process.env }
  const npx = { env: { ...process.env, npm_config_yes: 'true', NODE_OPTIONS: '' } }
  const { stdout } = await exec(
    'npx',
    ['-y', `node@${major}`, '-p', 'process.execPath + " " + process.version'],
    npx,
  )
  const [execPath, version] = stdout.trim().split(' ') as [string, string]
  const env: NodeJS.ProcessEnv = { ...process.env }
  const [maj, min] = version.slice(1).split('.').map(Number) as [number, number]
  if (maj > 22 || (maj === 22 && min >= 12)) {
    env.SSE_BENCH_ESP4 = await toolDir('bench-eventsource-parser-4', ['eventsource-parser@4'])
  }
  return { execPath, version, env }
}

async function runCase(runtime: CaseRuntime, question: string, caseName: string): Promise<Row[]> {
  // Same node flags (--expose-gc, --import tsx) as this process.
  const { stdout } = await exec(
    runtime.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), CHILD, question, caseName],
    { maxBuffer: 16 * 1024 * 1024, env: runtime.env },
  )
  return JSON.parse(stdout) as Row[]
}

function si(value: number, unit: string): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)} G${unit}`
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M${unit}`
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k${unit}`
  return `${value.toFixed(0)} ${unit}`
}

async function main(argv: string[]): Promise<void> {
  const nodeFlag = argv.findIndex((arg) => arg === '--node' || arg.startsWith('--node='))
  const major =
    nodeFlag === -1
      ? undefined
      : argv[nodeFlag]!.includes('=')
        ? argv[nodeFlag]!.split('=')[1]
        : argv[nodeFlag + 1]
  if (nodeFlag !== -1 && !/^\d+$/.test(major ?? ''))
    throw new Error('--node takes a major version: --node 24')
  const args = argv.filter(
    (_, i) =>
      nodeFlag === -1 ||
      (i !== nodeFlag && !(i === nodeFlag + 1 && !argv[nodeFlag]!.includes('='))),
  )
  const runtime = await caseRuntime(major)
  const questions = await Promise.all(Object.values(modules).map((load) => load()))
  const known = questions.map((q) => q.question)
  const unknown = args.filter((name) => !known.includes(name))
  if (unknown.length > 0) {
    throw new Error(`Unknown question ${unknown.join(', ')}; known: ${known.join(', ')}`)
  }
  const selected = args.length > 0 ? questions.filter((q) => args.includes(q.question)) : questions

  const started = performance.now()
  const rows: Row[] = []
  for (const q of selected) {
    for (const caseName of q.cases) {
      process.stderr.write(`bench: ${q.question} ${caseName}\n`)
      rows.push(...(await runCase(runtime, q.question, caseName)))
    }
  }
  const seconds = (performance.now() - started) / 1000

  const cpus = os.cpus()
  const header = [
    `Node ${runtime.version} · ${cpus[0]?.model ?? 'unknown CPU'} (${cpus.length} cores) · ${new Date().toISOString()}`,
    `Each case in a fresh process; median of ${defaults.samples} interleaved samples of ` +
      `>= ${defaults.sampleMs} ms each${hasGc ? ', GC between samples' : ' (no --expose-gc)'}. ` +
      'MB = 10^6 bytes. spread = half the range of the samples. ' +
      'ratio = how many times faster ours is than that row (> 1: ours is faster); ' +
      'a row that is no race gives a note instead. ' +
      `Load average at the end: ${os
        .loadavg()
        .map((n) => n.toFixed(1))
        .join(' ')}. Took ${seconds.toFixed(0)} s.`,
  ]
  const table = [
    '| question | case | contender | throughput | events/s | spread | ratio or note |',
    '| --- | --- | --- | ---: | ---: | ---: | --- |',
    ...rows.map(
      (r) =>
        `| ${r.question} | ${r.case} | ${r.contender} | ${si(r.bytesPerSec, 'B/s')} | ` +
        `${si(r.eventsPerSec, '')} | ${r.spread} | ${[r.ratio, r.note].filter(Boolean).join('; ') || '—'} |`,
    ),
  ]
  const output = `${header.join('\n\n')}\n\n${table.join('\n')}\n`
  process.stdout.write(output)

  if (selected.length === questions.length && major === undefined) {
    const dir = new URL('../results/', import.meta.url)
    await mkdir(dir, { recursive: true })
    await writeFile(new URL('latest.md', dir), `# Benchmark results\n\n${output}`)
  }
}

const args = process.argv.slice(2)
if (args[0] === CHILD) await runChild(args[1]!, args[2]!)
else await main(args)
