export { encode, encodeBytes, encodeComment, type SseEvent } from './encode'
export { SseError, type SseErrorCode } from './errors'
export { createParser, type ParsedEvent, type Parser, type ParserOptions } from './parse'
