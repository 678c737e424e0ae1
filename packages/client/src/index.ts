export { type ParsedEvent, SseError, type SseErrorCode } from '@sse/core'
export {
  CLOSED,
  type ClientOptions,
  CONNECTING,
  connect,
  type EventStream,
  ITERATOR_HIGH_WATER_MARK,
  OPEN,
  type ReadyState,
  type StreamError,
} from './connect'
