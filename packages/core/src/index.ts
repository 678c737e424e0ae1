export {
  type BroadcastOptions,
  type BroadcastResult,
  type Channel,
  type ChannelOptions,
  createChannel,
  type GapInfo,
  type JoinOptions,
} from './channel'
export { encode, encodeBytes, encodeComment, type SseEvent } from './encode'
export { SseError, type SseErrorCode } from './errors'
export {
  type ConnectionLimiter,
  type ConnectionLimiterOptions,
  createConnectionLimiter,
  type LimitOption,
} from './limits'
export { createParser, type ParsedEvent, type Parser, type ParserOptions } from './parse'
export {
  type EventStore,
  type MaybePromise,
  MemoryEventStore,
  type MemoryEventStoreOptions,
  type ReadAfterResult,
  type StoredEvent,
} from './replay'
export {
  createSession,
  defaultSerialize,
  type PipeOptions,
  type SendOptions,
  type Session,
  type SessionOptions,
  type SlowClientInfo,
  type SlowClientPolicy,
  type SseSink,
} from './session'
export {
  createResponse,
  MAX_LAST_EVENT_ID_LENGTH,
  type ResponseOptions,
  readLastEventId,
  SSE_HEADERS,
} from './web'
