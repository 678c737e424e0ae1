// Headless Chromium for the browser tests: Debian's package, driven by
// playwright-core (never `playwright install`). Missing under CI it fails the
// run; elsewhere the browser tests are skipped with a visible warning.
import { existsSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'

export type { Browser, BrowserContext, Page } from 'playwright-core'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM_PATH)

const ci = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI)
if (!hasChromium) {
  const message = `Chromium is not at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`
  if (ci) throw new Error(`${message}: the browser tests cannot run under CI`)
  // biome-ignore lint/suspicious/noConsole: a skip must be seen, not silent
  console.warn(`\n⚠  SKIPPING the browser tests: ${message}\n`)
}

/** Launches headless Chromium with flags that keep it quiet and quick in a container. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  })
}
