export { fetchEvents, http2Events, httpHead, type StreamCapture, tls } from './clients'
export {
  type AdapterUnderTest,
  CORS_ORIGIN,
  type ContractRoute,
  MIDDLEWARE_HEADER,
  type RunningServer,
  runAdapterContract,
  type StartOptions,
} from './contract'
export { type ReadmeExample, readmeExamples, runAsCommonJs } from './docs'
export { type EngineBackend, type EngineBackendOptions, runEngineSuite } from './engine-suite'
export { type MemoryClient, memoryClient } from './memory-client'
export {
  type HaproxyOptions,
  type NginxOptions,
  type ProxyBinary,
  proxyAvailable,
  type RunningProxy,
  startHaproxy,
  startNginx,
} from './proxies'
export { runOnNode, toolDir } from './runtimes'
export {
  openStream,
  type ScriptedServer,
  type SeenRequest,
  startServer,
} from './scripted-server'
export { type ListeningServer, listen, type NodeServer } from './servers'
export { settle, type TimerTracker, trackTimers } from './timers'
export { until } from './until'
