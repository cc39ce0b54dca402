/** The pure saga core: definitions' compiled types, instance state, decide and evolve. */
export * from './definition.js';
export * from './state.js';
export * from './events.js';
export * from './inputs.js';
export * from './effects.js';
export { evolve } from './evolve.js';
export { decide, repliesTo, start, startKey, isRejection, type Decision, type Rejection, type Ignored } from './decide.js';
export { backoffDelay, canRetry } from './backoff.js';
export { renderTemplate, scopeFor, scopeOf, truthy } from './template.js';
export { elementLeaf, elementName, elementNames, elementOf, forEachStage, groupElementNames, groupStepName, parseElement, parseGroupStep } from './for-each.js';
export { assertNever } from './assert-never.js';
export { childEnded, childIdOf } from './child.js';
export { delayDue } from './delay.js';
