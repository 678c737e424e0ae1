export { createNatsEngine, type NatsEngine } from './engine'
export type { NatsEngineOptions } from './options'
export { selectorToSubject, subjectToTopic, topicToSubject } from './subjects'
