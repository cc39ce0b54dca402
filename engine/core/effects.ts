import type { SagaInput, TimerRef } from './inputs.js';

/**
 * A command envelope to publish with its NATS headers (DESIGN section 3). The shell renders
 * `timestamp` and `deadlineAt` (the `Saga-Deadline` header) as ISO times and adds `traceparent`.
 */
export interface OutgoingCommand {
  readonly eventId: string;
  readonly subject: string;
  readonly eventType: string;
  readonly version: number;
  readonly aggregateId: string;
  readonly correlationId: string;
  readonly causationId: string;
  readonly timestamp: number;
  readonly payload: unknown;
  /** Epoch ms after which sagad no longer waits for this attempt. */
  readonly deadlineAt: number;
  readonly headers: {
    readonly 'Saga-Id': string;
    readonly 'Saga-Name': string;
    readonly 'Saga-Step': string;
    readonly 'Saga-Attempt': string;
    readonly 'Idempotency-Key': string;
  };
}

export const LifecycleType = {
  SagaStarted: 'SagaStarted',
  SagaCompleted: 'SagaCompleted',
  SagaCompensated: 'SagaCompensated',
  SagaFailed: 'SagaFailed',
} as const;
export type LifecycleType = (typeof LifecycleType)[keyof typeof LifecycleType];

/** Which side of a step a command is for: its work, or the compensation that undoes it. */
export const CommandSide = { do: 'do', undo: 'undo' } as const;
export type CommandSide = (typeof CommandSide)[keyof typeof CommandSide];

/** Imperative instructions for the shell; the core runs none of them. */
export type Effect =
  | { readonly type: 'SendCommand'; readonly step: string; readonly side: CommandSide; readonly command: OutgoingCommand }
  | { readonly type: 'ScheduleTimer'; readonly timerId: string; readonly dueAt: number; readonly timer: TimerRef }
  | { readonly type: 'CancelTimer'; readonly timerId: string }
  | { readonly type: 'PublishLifecycle'; readonly eventId: string; readonly eventType: LifecycleType; readonly timestamp: number; readonly payload: LifecyclePayload }
  /** Start the child saga in the same write as this decision (a new instance, once by its id). */
  | { readonly type: 'StartChild'; readonly step: string; readonly childId: string; readonly saga: string; readonly input: unknown; readonly key: string | null; readonly correlationId: string }
  /** Feed `ParentCompensates` to the child in the same write. */
  | { readonly type: 'CompensateChild'; readonly step: string; readonly childId: string }
  /**
   * Feed this instance the end of its child again, in the same write, if the child has ended:
   * an operator's retry resumes a child step whose child ended while this instance was failed.
   */
  | { readonly type: 'HearChild'; readonly step: string; readonly childId: string }
  /** Feed `ChildEnded` to the parent in the same write. */
  | { readonly type: 'NotifyParent'; readonly parentId: string; readonly input: Extract<SagaInput, { type: 'ChildEnded' }> };

export interface LifecyclePayload {
  readonly id: string;
  readonly saga: string;
  readonly key: string | null;
  readonly state: string;
  readonly reason?: string;
}
