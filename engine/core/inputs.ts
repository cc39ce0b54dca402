import type { ParentLink, TraceContext } from './state.js';

/**
 * What the shell feeds the core, one at a time, and the environment it passes along.
 */

/** The fields of an incoming envelope the core reads. */
export interface IncomingMessage {
  readonly eventId: string;
  readonly eventType: string;
  readonly correlationId: string;
  readonly causationId: string;
  readonly aggregateId: string;
  readonly version: number;
  readonly payload: unknown;
}

/** What a timer was for; stored with the timer row and handed back when it fires. */
export type TimerRef =
  | { readonly kind: 'attempt_timeout'; readonly step: string; readonly attempt: number }
  | { readonly kind: 'retry'; readonly step: string; readonly attempt: number }
  | { readonly kind: 'wait_timeout'; readonly step: string }
  | { readonly kind: 'comp_timeout'; readonly step: string; readonly attempt: number }
  | { readonly kind: 'comp_retry'; readonly step: string; readonly attempt: number }
  | { readonly kind: 'delay'; readonly step: string }
  | { readonly kind: 'child_timeout'; readonly step: string }
  | { readonly kind: 'deadline' };

/** Pure: the timer's id, unique within its instance and stable across restarts. */
export function timerId(ref: TimerRef): string {
  if (ref.kind === 'delay' || ref.kind === 'child_timeout') return `${ref.kind}:${ref.step}`;
  return ref.kind === 'deadline' ? 'deadline' : ref.kind === 'wait_timeout' ? `wait_timeout:${ref.step}` : `${ref.kind}:${ref.step}:${ref.attempt}`;
}

export type SagaInput =
  | {
    readonly type: 'ReplyReceived'; readonly message: IncomingMessage;
    /**
     * How long (ms) after a compensated instance ended a late success may still reopen it;
     * undefined or null: always (the rule of DESIGN section 1, point 3 without a bound).
     */
    readonly lateWindowMs?: number | null;
  }
  | { readonly type: 'EventReceived'; readonly subject: string; readonly message: IncomingMessage }
  | { readonly type: 'TimerFired'; readonly timer: TimerRef }
  /** `by`: who asked (a token's name), journaled with the act. */
  | { readonly type: 'CancelRequested'; readonly reason: string; readonly by?: string }
  | { readonly type: 'RetryRequested'; readonly by?: string; readonly reason?: string }
  /** To a parent: the child its `saga` step started has ended (child.ts). */
  | { readonly type: 'ChildEnded'; readonly step: string; readonly childId: string; readonly outcome: ChildOutcome; readonly output: unknown; readonly reason: string | null }
  /** To a child: its parent compensates, so undo what it did (a running child is cancelled). */
  | { readonly type: 'ParentCompensates'; readonly parentId: string };

/**
 * How a child saga ended, as its parent's step sees it; `not_started` when it could not start
 * (its key taken, its saga gone after a reload, its input refused): it did nothing.
 */
export type ChildOutcome = 'completed' | 'compensated' | 'failed' | 'not_started';

/** A request to start an instance; the shell has already resolved idempotency by id and key. */
export interface StartRequest {
  readonly id: string;
  readonly input: unknown;
  readonly key: string | null;
  readonly correlationId: string;
  /** The trigger event envelope, or null. */
  readonly event: unknown;
  /** eventId of the message (or request) that caused the start. */
  readonly causationId: string;
  /** The trace context the shell began for it, when tracing is on; kept as data. */
  readonly trace?: TraceContext;
  /** Set when a parent's `saga` step starts this instance. */
  readonly parent?: ParentLink;
}

/**
 * Time and randomness, passed in so the core stays deterministic. `newId` returns a fresh
 * message id (UUIDv7 in production); `random` returns a number in [0, 1).
 */
export interface Env {
  readonly now: number;
  newId(): string;
  random(): number;
}
