/**
 * A Node child process spoken to over IPC with typed messages. A reply is
 * awaited by its `type`; a child's `{ type: 'error' }` message (see
 * `reportFailures`) or its exit fails every wait, so a crash in a child fails
 * the benchmark loudly instead of hanging it.
 */
import { type ChildProcess, fork } from 'node:child_process'

interface Waiter<Reply> {
  type: string
  resolve: (reply: Reply) => void
  reject: (error: Error) => void
}

export class IpcChild<Command, Reply extends { type: string }> {
  readonly #process: ChildProcess
  readonly #unclaimed: Reply[] = []
  readonly #waiters: Array<Waiter<Reply>> = []
  #failure: Error | undefined
  #stderr = ''

  /** Forks `script` with this process's node flags (`--expose-gc --import tsx`). */
  constructor(
    readonly name: string,
    script: string,
    args: string[],
  ) {
    this.#process = fork(script, args, {
      execArgv: process.execArgv,
      // Never stdout: the parent's stdout carries the rows as JSON.
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    })
    this.#process.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000)
    })
    this.#process.on('message', (message: Reply) => {
      if (message.type === 'error') {
        this.#fail(`${(message as unknown as { message: string }).message}`)
        return
      }
      const index = this.#waiters.findIndex((waiter) => waiter.type === message.type)
      if (index === -1) this.#unclaimed.push(message)
      else this.#waiters.splice(index, 1)[0]!.resolve(message)
    })
    this.#process.on('exit', (code, signal) => {
      this.#fail(`exited (${code ?? signal}) ${this.#stderr}`)
    })
  }

  #fail(message: string): void {
    this.#failure ??= new Error(`${this.name}: ${message}`)
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failure)
  }

  send(command: Command): void {
    if (this.#failure !== undefined) throw this.#failure
    this.#process.send(command as object)
  }

  /** The next reply of `type`; rejects when the child fails or `seconds` pass first. */
  next<T extends Reply['type']>(type: T, seconds: number): Promise<Extract<Reply, { type: T }>> {
    const index = this.#unclaimed.findIndex((reply) => reply.type === type)
    if (index !== -1) {
      return Promise.resolve(this.#unclaimed.splice(index, 1)[0] as Extract<Reply, { type: T }>)
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
        reject(new Error(`${this.name}: no '${type}' within ${seconds} s`))
      }, seconds * 1000)
      const waiter: Waiter<Reply> = {
        type,
        resolve: (reply) => {
          clearTimeout(timer)
          resolve(reply as Extract<Reply, { type: T }>)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      }
      this.#waiters.push(waiter)
    })
  }

  /** Sends `command` (which should make it exit), then SIGKILLs it by its pid after 5 s. */
  async stop(command: Command): Promise<void> {
    const child = this.#process
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    this.#failure ??= new Error(`${this.name}: stopped`)
    if (child.connected) child.send(command as object)
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
}
