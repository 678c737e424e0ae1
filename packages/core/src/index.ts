export {
  createDrainer,
  type Drainer,
  type DrainerOptions,
  type DrainOptions,
} from './drain'
export { encode, encodeBytes, encodeComment, type SseEvent } from './encode'
export {
  type Engine,
  type EngineEvent,
  type FollowHandlers,
  type Following,
  MAX_POSITION_LENGTH,
  MAX_SHARDS,
  type MaybePromise,
  type ShardEvent,
  type ShardReadResult,
} from './engine'
export { SseError, type SseErrorCode } from './errors'
export { type Cursor, formatEventId, parseEventId } from './event-id'
export type { EventMap, EventName, TypedArgs } from './events'
export {
  createHub,
  type GapInfo,
  type Hub,
  type HubOptions,
  type PublishOptions,
  type SubscribeOptions,
  type Subscription,
} from './hub'
export {
  createInstrumentation,
  type GapReason,
  type Instrumentation,
  type InstrumentationListener,
  type StoreOperation,
} from './instrumentation'
export { MAX_LAST_EVENT_ID_LENGTH, readLastEventId } from './last-event-id'
export {
  type ConnectionLimiter,
  type ConnectionLimiterOptions,
  createConnectionLimiter,
  type LimitOption,
} from './limits'
export { createMemoryEngine, type MemoryEngineOptions } from './memory-engine'
export {
  createStreamHandler,
  type HeaderList,
  type OpenedStream,
  type OpenedTransport,
  openStream,
  resolveStreamOptions,
  SSE_HEADERS,
  type StreamBinding,
  type StreamConfig,
  type StreamHandler,
  type StreamOptions,
  type TransportOptions,
} from './open'
export { createParser, type ParsedEvent, type Parser, type ParserOptions } from './parse'
export { type ReadEventsOptions, readEvents } from './read-events'
export {
  type CloseReason,
  type ConflateFallback,
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
  assertSelector,
  assertTopic,
  MAX_TOPIC_LENGTH,
  MAX_TOPIC_SEGMENTS,
  selectorMatches,
} from './topics'
export { createResponse, openResponse, type ResponseOptions, sse, webBinding } from './web'
