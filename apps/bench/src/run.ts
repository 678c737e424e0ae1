/**
 * Runs every question and prints one markdown table, also written to
 * `results/latest.md`. `pnpm bench` runs them all; `pnpm bench parse` runs
 * only the named questions (and leaves `results/latest.md` alone).
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
import * as broadcast from './broadcast'
import * as encode from './encode'
import * as fanout from './fanout'
import { defaults, hasGc, type Row } from './measure'
import * as parse from './parse'
import * as redis from './redis'
import * as topics from './topics'

interface Question {
  question: string
  /** Names of the cases, each measured in its own process. */
  cases: readonly string[]
  run(caseName: string): Promise<Row[]>
}

const questions: Question[] = [parse, encode, broadcast, fanout, redis, topics]

const CHILD = '--case'

async function runChild(question: string, caseName: string): Promise<void> {
  const q = questions.find((candidate) => candidate.question === question)
  if (!q?.cases.includes(caseName)) throw new Error(`No case ${question} ${caseName}`)
  process.stdout.write(JSON.stringify(await q.run(caseName)))
}

async function runCase(question: string, caseName: string): Promise<Row[]> {
  // Same node flags (--expose-gc, --import tsx) as this process.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), CHILD, question, caseName],
    { maxBuffer: 16 * 1024 * 1024 },
  )
  return JSON.parse(stdout) as Row[]
}

function si(value: number, unit: string): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)} G${unit}`
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M${unit}`
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k${unit}`
  return `${value.toFixed(0)} ${unit}`
}

async function main(args: string[]): Promise<void> {
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
      rows.push(...(await runCase(q.question, caseName)))
    }
  }
  const seconds = (performance.now() - started) / 1000

  const cpus = os.cpus()
  const header = [
    `Node ${process.version} · ${cpus[0]?.model ?? 'unknown CPU'} (${cpus.length} cores) · ${new Date().toISOString()}`,
    `Each case in a fresh process; median of ${defaults.samples} interleaved samples of ` +
      `>= ${defaults.sampleMs} ms each${hasGc ? ', GC between samples' : ' (no --expose-gc)'}. ` +
      'MB = 10^6 bytes. spread = half the range of the samples. ' +
      'ratio = how many times faster ours is than that row (> 1: ours is faster). ' +
      `Load average at the end: ${os
        .loadavg()
        .map((n) => n.toFixed(1))
        .join(' ')}. Took ${seconds.toFixed(0)} s.`,
  ]
  const table = [
    '| question | case | contender | throughput | events/s | spread | ratio |',
    '| --- | --- | --- | ---: | ---: | ---: | --- |',
    ...rows.map(
      (r) =>
        `| ${r.question} | ${r.case} | ${r.contender} | ${si(r.bytesPerSec, 'B/s')} | ` +
        `${si(r.eventsPerSec, '')} | ${r.spread} | ${r.ratio || '—'} |`,
    ),
  ]
  const output = `${header.join('\n\n')}\n\n${table.join('\n')}\n`
  process.stdout.write(output)

  if (selected.length === questions.length) {
    const dir = new URL('../results/', import.meta.url)
    await mkdir(dir, { recursive: true })
    await writeFile(new URL('latest.md', dir), `# Benchmark results\n\n${output}`)
  }
}

const args = process.argv.slice(2)
if (args[0] === CHILD) await runChild(args[1]!, args[2]!)
else await main(args)
