import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, test } from 'vitest'
import { nodes } from './available'

const run = promisify(execFile)
const repo = fileURLToPath(new URL('../../..', import.meta.url))
const config = fileURLToPath(new URL('../vitest.matrix.ts', import.meta.url))
const vitest = `${repo}node_modules/vitest/vitest.mjs`

interface JsonReport {
  numTotalTests: number
  numPassedTests: number
  numFailedTests: number
  numPendingTests: number
  testResults: Array<{
    name: string
    assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }>
  }>
}

// The repo's toolchain is Node 20; users run 22 and 24 too. The same
// contract runs on each, with Node binaries from the npm registry.
for (const major of [22, 24] as const) {
  test.skipIf(!nodes[major])(
    `on Node ${major}: every Node adapter's tests pass (the contract, node-http's raw-socket framing, the README examples)`,
    async () => {
      let stdout: string
      try {
        ;({ stdout } = await run(
          'npx',
          ['-y', `node@${major}`, vitest, 'run', '--config', config, '--reporter=json'],
          {
            cwd: repo,
            timeout: 300_000,
            maxBuffer: 64 * 1024 * 1024,
            env: { ...process.env, NODE_OPTIONS: '', npm_config_yes: 'true' },
          },
        ))
      } catch (error) {
        // Failing tests exit non-zero; the report is still on stdout.
        stdout = (error as { stdout?: string }).stdout ?? ''
        if (!stdout.includes('"numTotalTests"')) throw error
      }
      const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as JsonReport
      const failed = report.testResults.flatMap((file) =>
        file.assertionResults
          .filter((result) => result.status === 'failed')
          .map((result) => `${result.fullName}: ${result.failureMessages[0]?.split('\n')[0]}`),
      )
      expect(failed).toEqual([])
      expect(report.numPendingTests).toBe(0)
      // Every adapter's tests ran (148 on Node 20 when this was written).
      expect(report.testResults.length).toBeGreaterThanOrEqual(19)
      expect(report.numPassedTests).toBeGreaterThanOrEqual(140)
    },
    360_000,
  )
}
