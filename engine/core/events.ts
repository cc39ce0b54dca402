import type { CompensationReason, ParentLink, StepOutcome, TraceContext } from './state.js';

/**
 * Journal events: past tense, plain JSON, each applied by `evolve`. `at` is epoch ms.
 * The journal stores them with a per-type version (`eventVersion`) for upcasters.
 */
export type SagaEvent =
  | { type: 'SagaStarted'; at: number; instanceId: string; saga: string; definitionHash: string; key: string | null; correlationId: string; input: unknown; event: unknown; deadlineAt: number | null; trace?: TraceContext; parent?: ParentLink }
  // `pivot` (absent on older events, and on every other step): the pivot was skipped, and the
  // saga is past it as if it had succeeded, since the steps after it have no compensation.
  | { type: 'StepSkipped'; at: number; step: string; pivot?: true }
  | { type: 'StepDispatched'; at: number; step: string; attempt: number; commandId: string; timeoutAt: number }
  | { type: 'WaitStarted'; at: number; step: string; timeoutAt: number | null }
  | { type: 'ForEachStarted'; at: number; step: string; items: unknown[] }
  | { type: 'DelayStarted'; at: number; step: string; until: number }
  | { type: 'ChildStarted'; at: number; step: string; childId: string; saga: string; timeoutAt: number | null }
  | { type: 'ChildCompensationRequested'; at: number; step: string; childId: string }
  | { type: 'StepSucceeded'; at: number; step: string; replyId: string | null; output: unknown; pivot: boolean }
  | { type: 'StepAttemptFailed'; at: number; step: string; attempt: number; error: string; retryAt: number }
  | { type: 'StepFailed'; at: number; step: string; error: string; status: 'failed' | 'timed_out'; outcome: StepOutcome }
  | { type: 'StepGivenUp'; at: number; step: string; status: 'failed' | 'timed_out'; outcome: StepOutcome }
  | { type: 'CompensationStarted'; at: number; reason: CompensationReason; queue: string[] }
  | { type: 'CompensationDispatched'; at: number; step: string; attempt: number; commandId: string; timeoutAt: number }
  | { type: 'CompensationAttemptFailed'; at: number; step: string; attempt: number; error: string; retryAt: number }
  | { type: 'StepCompensated'; at: number; step: string; replyId: string | null }
  | { type: 'CompensationFailed'; at: number; step: string; error: string }
  | { type: 'LateSuccessRecorded'; at: number; step: string; replyId: string; output: unknown; queue: string[] | null }
  | { type: 'CompensationResumed'; at: number; by?: string; reason?: string }
  | { type: 'ForwardResumed'; at: number; step: string; by?: string; reason?: string }
  | { type: 'SagaCompleted'; at: number }
  | { type: 'SagaCompensated'; at: number }
  | { type: 'SagaFailed'; at: number; step: string; error: string };

export type SagaEventType = SagaEvent['type'];

/** Current schema version of each journal event type. */
export const eventVersion: Readonly<Record<SagaEventType, number>> = {
  SagaStarted: 1, StepSkipped: 1, StepDispatched: 1, WaitStarted: 1, DelayStarted: 1, ChildStarted: 1,
  ChildCompensationRequested: 1, StepSucceeded: 1,
  StepAttemptFailed: 1, StepFailed: 1, StepGivenUp: 1, CompensationStarted: 1,
  CompensationDispatched: 1, CompensationAttemptFailed: 1, StepCompensated: 1,
  CompensationFailed: 1, LateSuccessRecorded: 1, CompensationResumed: 1, ForwardResumed: 1, SagaCompleted: 1,
  SagaCompensated: 1, SagaFailed: 1, ForEachStarted: 1,
};
