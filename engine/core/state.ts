/**
 * Instance state: plain JSON, a discriminated union on `status`, built only by `evolve`.
 */

export const InstanceStatus = {
  running: 'running',
  compensating: 'compensating',
  completed: 'completed',
  compensated: 'compensated',
  failed: 'failed',
} as const;
export type InstanceStatus = (typeof InstanceStatus)[keyof typeof InstanceStatus];

/** The forward life of a step; compensation is tracked beside it in `compensation`. */
export const StepStatus = {
  pending: 'pending',
  running: 'running',
  retrying: 'retrying',
  succeeded: 'succeeded',
  failed: 'failed',
  timed_out: 'timed_out',
  skipped: 'skipped',
} as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

/** Whether a step's work may have happened: `unknown` and `done` are compensated. */
export type StepOutcome = 'done' | 'unknown' | 'not_done';

export const CompensationStatus = {
  pending: 'pending',
  running: 'running',
  retrying: 'retrying',
  compensated: 'compensated',
  compensation_failed: 'compensation_failed',
} as const;
export type CompensationStatus = (typeof CompensationStatus)[keyof typeof CompensationStatus];

/** What a step and its compensation each track of their attempts. */
interface AttemptTracking {
  /** Attempts dispatched so far (for a compensation: since it (re)started; operator retry resets it). */
  readonly attempt: number;
  /** Command ids of every attempt: a success from any of them counts while it is active. */
  readonly commands: readonly string[];
  /** The command id of the attempt awaiting its reply, or null. */
  readonly awaiting: string | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly lastError: string | null;
}

export interface CompensationState extends AttemptTracking {
  readonly status: CompensationStatus;
}

export interface StepState extends AttemptTracking {
  readonly status: StepStatus;
  /** Payload of the success reply (or the awaited event), null until then. */
  readonly output: unknown;
  readonly outcome: StepOutcome | null;
  /** Completion order among the steps: compensation runs in descending order of it. */
  readonly doneSeq: number | null;
  readonly compensation: CompensationState | null;
  /** A `forEach` stage only: the elements it iterates, fixed when it started. */
  readonly items?: readonly unknown[];
}

export const CompensationReasonKind = { step_failed: 'step_failed', cancelled: 'cancelled', deadline: 'deadline' } as const;
export type CompensationReasonKind = (typeof CompensationReasonKind)[keyof typeof CompensationReasonKind];

export interface CompensationReason {
  readonly kind: CompensationReasonKind;
  readonly step: string | null;
  readonly message: string;
  /** For a cancel: who asked (a token's name), when known. */
  readonly by?: string;
}

export interface CompensationPlan {
  readonly reason: CompensationReason;
  /** Steps still to compensate; the head is the one being compensated. */
  readonly queue: readonly string[];
}

/**
 * The instance's W3C trace context, opaque to the core: written by the shell when tracing is
 * on and kept in the journal, so the instance's spans survive a restart (docs/tracing.md).
 */
export interface TraceContext {
  /** The saga span's own `traceparent` (trace id, span id, flags). */
  readonly traceparent: string;
  /** The caller's `traceparent`, the saga span's parent; absent for a root. */
  readonly parent?: string;
  readonly tracestate?: string;
}

/** The step of a parent instance that started this one (a `saga` step), kept as data. */
export interface ParentLink {
  readonly id: string;
  readonly saga: string;
  readonly step: string;
}

interface InstanceCommon {
  readonly id: string;
  readonly saga: string;
  readonly definitionHash: string;
  readonly key: string | null;
  readonly correlationId: string;
  readonly input: unknown;
  /** The trigger event's envelope, or null when started by API or `sagas.start`. */
  readonly event: unknown;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly deadlineAt: number | null;
  readonly pastPivot: boolean;
  readonly steps: Readonly<Record<string, StepState>>;
  /** Counter behind `StepState.doneSeq`. */
  readonly seq: number;
  /** Number of journal events applied. */
  readonly version: number;
  /** Present only when sagad traced the start. */
  readonly trace?: TraceContext;
  /** Present only for a child saga: the parent's step waits for this instance's end. */
  readonly parent?: ParentLink;
}

export interface RunningInstance extends InstanceCommon { readonly status: 'running'; readonly compensation: null }
export interface CompletedInstance extends InstanceCommon { readonly status: 'completed'; readonly compensation: null }
export interface CompensatingInstance extends InstanceCommon { readonly status: 'compensating'; readonly compensation: CompensationPlan }
export interface CompensatedInstance extends InstanceCommon { readonly status: 'compensated'; readonly compensation: CompensationPlan }
export interface FailedInstance extends InstanceCommon {
  readonly status: 'failed';
  /** Null when a step after the pivot failed: nothing is compensated, `retry` resumes the step. */
  readonly compensation: CompensationPlan | null;
  readonly failure: { readonly step: string; readonly error: string };
}

export type InstanceState = RunningInstance | CompletedInstance | CompensatingInstance | CompensatedInstance | FailedInstance;

/** Pure: true when the instance will change no more without an operator or a late reply. */
export function isTerminal(state: InstanceState): boolean {
  return state.status === 'completed' || state.status === 'compensated' || state.status === 'failed';
}

/** Pure: the public step state of DESIGN section 4, folding compensation into one word. */
export function publicStepState(step: StepState): string {
  const c = step.compensation;
  if (c === null) return step.status;
  if (c.status === 'compensated') return 'compensated';
  if (c.status === 'compensation_failed') return 'compensation_failed';
  return 'compensating';
}

/**
 * Pure: the state of the step of that name, or undefined before it started. Only the record's
 * own entries count: a name that `Object.prototype` also has (`constructor`, `toString`) must
 * not find the inherited function instead of a step.
 */
export function ownStep(steps: Readonly<Record<string, StepState>>, name: string): StepState | undefined {
  return Object.hasOwn(steps, name) ? steps[name] : undefined;
}

export const emptyStep: StepState = {
  status: 'pending', attempt: 0, commands: [], awaiting: null, startedAt: null, finishedAt: null,
  lastError: null, output: null, outcome: null, doneSeq: null, compensation: null,
};
