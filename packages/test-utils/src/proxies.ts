/**
 * Real reverse proxies for the deployment tests: Debian's nginx and HAProxy,
 * each a child of the test process on its own 127.0.0.1 port with a config
 * written to a temp dir, in front of an upstream on 127.0.0.1. Stopped by
 * their pid. Under `CI=true` a missing binary fails the test (`.ci/run`
 * installs both); elsewhere the tests skip.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { until } from './until'

/** A proxy this process started. */
export interface RunningProxy {
  url: string
  port: number
  /** What it printed (its error log), for a failing test's message. */
  log(): string
  stop(): Promise<void>
}

/** Whether `binary` runs here; under CI a missing one throws, so that no test skips there. */
export function proxyAvailable(binary: 'nginx' | 'haproxy'): boolean {
  try {
    execFileSync(binary, ['-v'], { stdio: 'ignore' })
    return true
  } catch {
    if (process.env.CI === 'true') {
      throw new Error(`${binary} is not installed: .ci/run installs it (apt-get install ${binary})`)
    }
    return false
  }
}

/**
 * nginx proxying `/` to the upstream with `location` directives (besides
 * `proxy_pass`): the settings under test.
 */
export async function startNginx(upstreamPort: number, location: string): Promise<RunningProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'sse-nginx-'))
  return start(dir, async (port) => {
    const user = process.getuid?.() === 0 ? 'user root;' : ''
    await writeFile(
      join(dir, 'nginx.conf'),
      `${user}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      ${location}
    }
  }
}
`,
    )
    return spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
  })
}

/** HAProxy in `mode http` with `defaults` lines (timeouts, options): the settings under test. */
export async function startHaproxy(upstreamPort: number, defaults: string): Promise<RunningProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'sse-haproxy-'))
  return start(dir, async (port) => {
    await writeFile(
      join(dir, 'haproxy.cfg'),
      `global
  maxconn 256
defaults
  mode http
${defaults
  .split('\n')
  .map((line) => `  ${line.trim()}`)
  .join('\n')}
frontend web
  bind 127.0.0.1:${port}
  default_backend app
backend app
  server app 127.0.0.1:${upstreamPort}
`,
    )
    return spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
  })
}

async function start(
  dir: string,
  launch: (port: number) => Promise<ChildProcess>,
): Promise<RunningProxy> {
  // A free port can be taken between asking and binding: try a few.
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    const child = await launch(port)
    let output = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    const exited = once(child, 'exit')
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    }
    try {
      await until(
        async () => {
          if (child.exitCode !== null) throw new Error(`the proxy exited: ${output}`)
          return accepts(port)
        },
        `the proxy on ${port}`,
        10_000,
      )
    } catch (error) {
      await stop()
      if (attempt < 3 && /address already in use/i.test(String(error))) continue
      throw error
    }
    return { url: `http://127.0.0.1:${port}`, port, log: () => output, stop }
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}
