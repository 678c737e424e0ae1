/** The contract app as a Workers module, for workerd. */
import { createContractApp } from './contract-app'

// Created on the first request: workerd allows no timers or I/O in global scope.
let app: ReturnType<typeof createContractApp> | undefined

export default {
  fetch(request: Request): Promise<Response> {
    app ??= createContractApp()
    return app.fetch(request)
  },
}
