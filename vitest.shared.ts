import { defineConfig } from 'vitest/config'

/**
 * One vitest config for every package: tests resolve workspace packages to
 * their TypeScript source through the `@sse/source` export condition, so a
 * test run never needs a build (the pack tests are the exception, on purpose).
 */
export default defineConfig({
  resolve: { conditions: ['@sse/source'] },
  ssr: { resolve: { conditions: ['@sse/source'], externalConditions: ['@sse/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
