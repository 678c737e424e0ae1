export { createRedisEngine, type RedisEngine } from './engine'
export { ENGINE_CONNECTION_DEFAULTS, type RedisEngineOptions } from './options'
