/**
 * Real reverse proxies for the deployment tests: Debian's nginx and HAProxy,
 * each one child process of the test, on its own 127.0.0.1 port, with a
 * config written to a fresh temp dir, in front of an upstream on 127.0.0.1.
 * `stop()` kills that child by its pid and removes the dir. Under CI a
 * missing binary fails the run (`.ci/run` installs both); elsewhere the tests
 * skip.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports'
import { until } from './until'

/** A proxy this process started. */
export interface RunningProxy {
  /** `http://127.0.0.1:<port>` */
  url: string
  port: number
  /** What the proxy printed (its error log), for a failing test's message. */
  log(): string
  /** Kills the proxy (only its own pid), waits for it to exit and removes its temp dir. */
  stop(): Promise<void>
}

export type ProxyBinary = 'nginx' | 'haproxy'

export interface NginxOptions {
  /** Directives inside the proxied `location /`, besides the fixture's own `proxy_pass`. */
  extraConfig?: string
}

export interface HaproxyOptions {
  /** Lines of the `defaults` section (timeouts, options), after the fixture's `mode http`. */
  extraConfig?: string
  /**
   * Adds `option http-no-delay`.
   *
   * @defaultValue false (HAProxy's own default)
   */
  noDelay?: boolean
}

const inCi = Boolean(process.env.CI) && process.env.CI !== 'false'

/**
 * Whether `binary` runs here. Under CI a missing one throws, so that no proxy
 * test skips there; elsewhere it warns and the caller skips.
 *
 * @example
 * ```ts
 * describe.skipIf(!proxyAvailable('nginx'))('behind nginx', () => { … })
 * ```
 */
export function proxyAvailable(binary: ProxyBinary): boolean {
  if (binaryPath(binary) !== undefined) return true
  const message = `${binary} is not installed (apt-get install ${binary}; .ci/run does)`
  if (inCi) throw new Error(`${message}: required under CI`)
  // biome-ignore lint/suspicious/noConsole: a skip must be seen, not silent
  console.warn(`@sse/test-utils: skipping the ${binary} tests. ${message}`)
  return false
}

/** nginx proxying `/` to `127.0.0.1:<upstreamPort>`, in the foreground, as the current user. */
export async function startNginx(
  upstreamPort: number,
  options: NginxOptions = {},
): Promise<RunningProxy> {
  const binary = requireBinary('nginx')
  const dir = await mkdtemp(join(tmpdir(), 'sse-nginx-'))
  const config = join(dir, 'nginx.conf')
  return start(dir, async (port, token) => {
    // `master_process off`: the child is all of nginx. With a master, killing
    // it by pid would leave its worker running (and serving the port); and
    // with no worker to switch users, no `user` directive is needed as root.
    await writeFile(
      config,
      `master_process off;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location = ${READY_PATH} { return 200 '${token}'; }
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
${indent(options.extraConfig ?? '', '      ')}
    }
  }
}
`,
    )
    // -e: the startup log too, which is otherwise /var/log/nginx (not writable unprivileged).
    return spawn(
      binary,
      [
        '-e',
        'stderr',
        '-p',
        dir,
        '-c',
        config,
        '-g',
        `daemon off; pid ${dir}/nginx.pid; error_log stderr;`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
  })
}

/** HAProxy in `mode http` proxying to `127.0.0.1:<upstreamPort>`, in the foreground (`-db`). */
export async function startHaproxy(
  upstreamPort: number,
  options: HaproxyOptions = {},
): Promise<RunningProxy> {
  const binary = requireBinary('haproxy')
  const dir = await mkdtemp(join(tmpdir(), 'sse-haproxy-'))
  const config = join(dir, 'haproxy.cfg')
  const defaults = [options.extraConfig ?? '', options.noDelay ? 'option http-no-delay' : ''].join(
    '\n',
  )
  return start(dir, async (port, token) => {
    await writeFile(
      config,
      `global
  maxconn 256
defaults
  mode http
${indent(defaults, '  ')}
frontend web
  bind 127.0.0.1:${port}
  http-request return status 200 content-type text/plain string ${token} if { path ${READY_PATH} }
  default_backend app
backend app
  server app 127.0.0.1:${upstreamPort}
`,
    )
    return spawn(binary, ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] })
  })
}

/** Answered by the proxy itself with a per-start token: the port is ours, and ready. */
const READY_PATH = '/.proxy-ready'

async function start(
  dir: string,
  launch: (port: number, token: string) => Promise<ChildProcess>,
): Promise<RunningProxy> {
  const token = randomUUID()
  try {
    // A free port can be taken between asking for it and binding it: retry.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      const child = await launch(port, token)
      let output = ''
      const record = (chunk: Buffer): void => {
        output += chunk.toString()
      }
      child.stdout?.on('data', record)
      child.stderr?.on('data', record)
      const exited = once(child, 'exit')
      const kill = async (): Promise<void> => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL')
          await exited
        }
      }
      try {
        await until(
          async () => {
            if (child.exitCode !== null || child.signalCode !== null) {
              throw new Error(`the proxy exited (${child.exitCode ?? child.signalCode}): ${output}`)
            }
            return (await probe(port)) === token
          },
          `the proxy on 127.0.0.1:${port}`,
          10_000,
        )
      } catch (error) {
        await kill()
        if (attempt < 5 && /address already in use/i.test(output)) continue
        throw error
      }
      let stopping: Promise<void> | undefined
      return {
        url: `http://127.0.0.1:${port}`,
        port,
        log: () => output,
        stop: () => {
          stopping ??= kill().then(() => rm(dir, { recursive: true, force: true }))
          return stopping
        },
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
}

/** The body of `GET /.proxy-ready` on `port`, or undefined while nothing answers. */
function probe(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: READY_PATH, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve(body))
      res.on('error', () => resolve(undefined))
    })
    req.setTimeout(1000, () => req.destroy())
    req.on('error', () => resolve(undefined))
  })
}

/** The binary on PATH, else in the sbin dirs a non-root PATH often lacks. */
function binaryPath(binary: ProxyBinary): string | undefined {
  for (const candidate of [binary, `/usr/sbin/${binary}`, `/usr/local/sbin/${binary}`]) {
    try {
      execFileSync(candidate, ['-v'], { stdio: 'ignore' })
      return candidate
    } catch {
      // Not there (ENOENT) or not runnable: try the next place.
    }
  }
  return undefined
}

function requireBinary(binary: ProxyBinary): string {
  const path = binaryPath(binary)
  if (path === undefined) throw new Error(`${binary} is not installed: see proxyAvailable()`)
  return path
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => prefix + line)
    .join('\n')
}
