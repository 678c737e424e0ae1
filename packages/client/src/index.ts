export { type EventMap, type ParsedEvent, SseError, type SseErrorCode } from '@sse/core'
export { connect } from './connect'
export { ITERATOR_HIGH_WATER_MARK } from './iterators'
export {
  createStreamStore,
  type StreamSnapshot,
  type StreamStore,
  type StreamStoreOptions,
} from './store'
export {
  CLOSED,
  type ClientOptions,
  CONNECTING,
  type EventStream,
  OPEN,
  type ReadyState,
  type StandardSchemaResult,
  type StandardSchemaV1,
  type StreamError,
  type StreamEvent,
  type TypedEvent,
  type TypedOptions,
} from './types'
