/**
 * The shapes of a definitions file once it has passed the JSON Schema
 * (saga-definitions.schema.json); the compiler reads only these.
 */

/** A whole definitions file. */
export interface RawFile {
  version?: 1;
  include?: string[];
  sagas?: RawSaga[];
}

/** One saga as written. */
export interface RawSaga {
  name: string;
  description?: string;
  start?: { on?: { subject: string; type: string }; key?: string };
  timeout?: string;
  defaults?: { timeout?: string; retry?: RawRetry };
  schemas?: Record<string, object | string>;
  steps: RawStep[];
}

/** A retry block; unset fields fall back to the next layer. */
export interface RawRetry {
  maxAttempts?: number | 'unlimited';
  initialInterval?: string;
  backoffRate?: number;
  maxInterval?: string;
  jitter?: 'none' | 'full';
}

/** A command as written; the payload is a template. */
export interface RawMessage {
  subject: string;
  type: string;
  version?: number;
  payload?: unknown;
}

/** The reply types of a command. */
export interface RawReply {
  subject: string;
  success: string[];
  failure?: string[];
  retryable?: string[];
}

/** A compensate block. */
export interface RawCompensate {
  command: RawMessage;
  reply: RawReply;
  timeout?: string;
  retry?: RawRetry;
}

/** A `forEach` block: the step runs once per element of `items`. */
export interface RawForEach {
  items: string;
  maxConcurrency?: number;
  maxItems?: number;
}

/** A step that sends a command. */
export interface RawCommandStep {
  name: string;
  when?: string;
  forEach?: RawForEach;
  pivot?: boolean;
  command: RawMessage;
  reply: RawReply;
  timeout?: string;
  retry?: RawRetry;
  compensate?: RawCompensate;
}

/** A step that waits for an event. */
export interface RawWaitStep {
  name: string;
  when?: string;
  wait: { subject: string; type: string; match?: string };
  timeout?: string;
  compensate?: RawCompensate;
}

/** A durable wait: `for` a duration, or `until` the time an expression gives. */
export interface RawDelayStep {
  name: string;
  when?: string;
  delay: { for?: string; until?: string };
}

/** A step that starts a child saga and waits for its end. */
export interface RawSagaStep {
  name: string;
  when?: string;
  saga: string;
  input?: unknown;
  key?: string;
  timeout?: string;
}

/** A group of branches run at once. */
export interface RawParallelStep {
  name: string;
  when?: string;
  parallel: RawLeafStep[][];
}

/** A group of steps run in order once per element of an array (`forEach` with `steps`). */
export interface RawForEachGroup {
  name: string;
  when?: string;
  forEach: RawForEach;
  steps: RawStep[];
}

/** A step that can sit in a parallel branch. */
export type RawLeafStep = RawCommandStep | RawWaitStep | RawDelayStep | RawSagaStep;
/** Any step of a saga's `steps`. */
export type RawStep = RawLeafStep | RawParallelStep | RawForEachGroup;

/** Pure: true for a parallel group. */
export function isParallel(step: RawStep): step is RawParallelStep {
  return 'parallel' in step;
}

/** Pure: true for a command step run once per element (`forEach`). */
export function isForEach(step: RawStep): step is RawCommandStep & { forEach: RawForEach } {
  return 'command' in step && 'forEach' in step && step.forEach !== undefined;
}

/** Pure: true for a forEach group (`forEach` with `steps`). */
export function isForEachGroup(step: RawStep): step is RawForEachGroup {
  return 'steps' in step && !('command' in step);
}

/** Pure: true for a delay step. */
export function isDelay(step: RawStep): step is RawDelayStep {
  return 'delay' in step;
}

/** Pure: true for a step that starts a child saga. */
export function isChildSaga(step: RawStep): step is RawSagaStep {
  return 'saga' in step;
}

/** Pure: true for a command step. */
export function isCommand(step: RawStep): step is RawCommandStep {
  return 'command' in step;
}
