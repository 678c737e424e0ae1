// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor } from '@testing-library/react'
import { createElement } from 'react'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { openStream, type SeenRequest, startServer, type TestServer } from './helpers'

// Node-only helpers (fs, a child process) load lazily: this file runs in happy-dom.
// Vitest runs a package's tests from the package directory.
const packageDir = process.cwd()
let server: TestServer
const seen: SeenRequest[] = []

beforeAll(async () => {
  server = await startServer((request) => {
    seen.push(request)
    openStream(request.res, 'event: price\ndata: 101.5\n\n')
  })
  // The example's URL is relative: serve the page from the server's origin.
  ;(window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(server.url)
})
afterEach(cleanup)
afterAll(() => server.close())

test('every README code block is an example file; the install line names what it imports', async () => {
  const { readmeExamples } = await import('@sse/test-utils/docs')
  expect(readmeExamples(packageDir).map((e) => e.file)).toEqual(['examples/ticker.tsx'])
})

test('examples/ticker.tsx: connects with the token, shows the latest price, stops on click', async () => {
  const { Ticker } = await import('../examples/ticker')
  render(createElement(Ticker, { symbol: 'ACME', token: 't0k3n' }))
  expect(screen.getByText('Connecting…')).toBeTruthy()
  const button = await waitFor(() => screen.getByRole('button'))
  await waitFor(() => expect(button.textContent).toBe('101.5 (stop)'))
  expect(seen.map((r) => [r.url, r.headers.authorization])).toEqual([
    ['/prices/ACME', 'Bearer t0k3n'],
  ])
  button.click()
  await waitFor(() => expect(seen[0]!.closed).toBe(true))
})

test('examples/ticker.tsx under require (CommonJS, the built packages): renders on the server', async () => {
  const { readmeExamples, runAsCommonJs } = await import('@sse/test-utils/docs')
  const [ticker] = readmeExamples(packageDir)
  const html = await runAsCommonJs(packageDir, ticker!, (ex, req) => {
    const { createElement } = req('react')
    const { renderToString } = req('react-dom/server')
    return renderToString(createElement(ex.Ticker, { symbol: 'ACME', token: 't' }))
  })
  expect(html).toBe('<p>Connecting…</p>')
})
