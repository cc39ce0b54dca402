import type { Effect, InstanceState, SagaEvent } from '../../engine/core/index.js';
import { publicStepState } from '../../engine/core/index.js';

/** One readable line per journal event, for golden traces. */
export function summarizeEvent(e: SagaEvent): string {
  switch (e.type) {
    case 'SagaStarted': return `SagaStarted ${e.saga} id=${e.instanceId} key=${e.key ?? '-'}${e.deadlineAt === null ? '' : ` deadline@${e.deadlineAt}`}`;
    case 'StepSkipped': return `StepSkipped ${e.step}`;
    case 'StepDispatched': return `StepDispatched ${e.step}#${e.attempt} cmd=${e.commandId} timeout@${e.timeoutAt}`;
    case 'WaitStarted': return `WaitStarted ${e.step}${e.timeoutAt === null ? '' : ` timeout@${e.timeoutAt}`}`;
    case 'ForEachStarted': return `ForEachStarted ${e.step} items=${JSON.stringify(e.items)}`;
    case 'DelayStarted': return `DelayStarted ${e.step} until@${e.until}`;
    case 'ChildStarted': return `ChildStarted ${e.step} child=${e.childId} saga=${e.saga}${e.timeoutAt === null ? '' : ` timeout@${e.timeoutAt}`}`;
    case 'ChildCompensationRequested': return `ChildCompensationRequested ${e.step} child=${e.childId}`;
    case 'StepSucceeded': return `StepSucceeded ${e.step}${e.pivot ? ' (pivot)' : ''} output=${JSON.stringify(e.output)}`;
    case 'StepAttemptFailed': return `StepAttemptFailed ${e.step}#${e.attempt} retry@${e.retryAt}: ${e.error}`;
    case 'StepFailed': return `StepFailed ${e.step} ${e.status} outcome=${e.outcome}: ${e.error}`;
    case 'StepGivenUp': return `StepGivenUp ${e.step} ${e.status} outcome=${e.outcome}`;
    case 'CompensationStarted': return `CompensationStarted ${e.reason.kind} queue=[${e.queue.join(',')}]: ${e.reason.message}`;
    case 'CompensationDispatched': return `CompensationDispatched ${e.step}#${e.attempt} cmd=${e.commandId} timeout@${e.timeoutAt}`;
    case 'CompensationAttemptFailed': return `CompensationAttemptFailed ${e.step}#${e.attempt} retry@${e.retryAt}: ${e.error}`;
    case 'StepCompensated': return `StepCompensated ${e.step}`;
    case 'CompensationFailed': return `CompensationFailed ${e.step}: ${e.error}`;
    case 'LateSuccessRecorded': return `LateSuccessRecorded ${e.step} output=${JSON.stringify(e.output)}${e.queue === null ? '' : ` queue=[${e.queue.join(',')}]`}`;
    case 'CompensationResumed': return 'CompensationResumed';
    case 'ForwardResumed': return `ForwardResumed ${e.step}`;
    case 'SagaCompleted': return 'SagaCompleted';
    case 'SagaCompensated': return 'SagaCompensated';
    case 'SagaFailed': return `SagaFailed ${e.step}: ${e.error}`;
  }
}

/** One readable line per effect, for golden traces. */
export function summarizeEffect(e: Effect): string {
  switch (e.type) {
    case 'SendCommand': {
      const c = e.command;
      return `SendCommand ${c.subject} ${c.eventType} id=${c.eventId} key=${c.headers['Idempotency-Key']} attempt=${c.headers['Saga-Attempt']} payload=${JSON.stringify(c.payload)}`;
    }
    case 'ScheduleTimer': return `ScheduleTimer ${e.timerId}@${e.dueAt}`;
    case 'CancelTimer': return `CancelTimer ${e.timerId}`;
    case 'PublishLifecycle': return `PublishLifecycle ${e.eventType}${e.payload.reason === undefined ? '' : `: ${e.payload.reason}`}`;
    case 'StartChild': return `StartChild ${e.saga} id=${e.childId} key=${e.key ?? '-'} input=${JSON.stringify(e.input)}`;
    case 'CompensateChild': return `CompensateChild ${e.childId}`;
    case 'HearChild': return `HearChild ${e.childId} step=${e.step}`;
    case 'NotifyParent': return `NotifyParent ${e.parentId} step=${e.input.step} ${e.input.outcome} output=${JSON.stringify(e.input.output)}${e.input.reason === null ? '' : `: ${e.input.reason}`}`;
  }
}

/** The instance as one status line and a state per step, for golden traces. */
export function summarizeState(s: InstanceState): { status: string; steps: Record<string, string> } {
  const steps: Record<string, string> = {};
  for (const [name, st] of Object.entries(s.steps)) steps[name] = publicStepState(st);
  return { status: s.status, steps };
}
