import { defineConfig, mergeConfig } from 'vitest/config'
import shared from '../../vitest.shared'

/**
 * Every test of the Node adapters (their contract suite, node-http's
 * wire-framing guard of its raw-socket path, their README examples) as one
 * run, for `test/node-matrix.test.ts` to start on other Node versions.
 */
const adapters = ['node-http', 'express', 'koa', 'fastify', 'hono']

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      projects: adapters.map((name) => ({
        extends: true,
        test: { name, root: new URL(`../${name}`, import.meta.url).pathname },
      })),
    },
  }),
)
