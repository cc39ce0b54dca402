import { assertNever } from './assert-never.js';
import type { SagaEvent } from './events.js';
import { formatIsoTime } from './iso-time.js';
import { emptyStep, ownStep, type CompensationState, type InstanceState, type StepState } from './state.js';

/**
 * Pure: applies one journal event to the state. Replaying an instance's journal through
 * `evolve` rebuilds exactly the state the core decided on. Throws only on a journal that
 * does not belong to this state (a bug, never a participant's message).
 */
export function evolve(state: InstanceState | undefined, event: SagaEvent): InstanceState {
  if (event.type === 'SagaStarted') {
    if (state !== undefined) throw new Error(`SagaStarted applied to existing instance ${state.id}`);
    return {
      id: event.instanceId, saga: event.saga, definitionHash: event.definitionHash, key: event.key,
      correlationId: event.correlationId, input: event.input, event: event.event,
      createdAt: event.at, updatedAt: event.at, deadlineAt: event.deadlineAt, pastPivot: false,
      steps: {}, seq: 0, version: 1, status: 'running', compensation: null,
      ...(event.trace === undefined ? {} : { trace: event.trace }),
      ...(event.parent === undefined ? {} : { parent: event.parent }),
    };
  }
  if (state === undefined) throw new Error(`${event.type} applied before SagaStarted`);
  const s = { ...state, updatedAt: event.at, version: state.version + 1 } as InstanceState;
  return apply(s, event);
}

function step(state: InstanceState, name: string): StepState {
  return ownStep(state.steps, name) ?? emptyStep;
}

function withStep(state: InstanceState, name: string, patch: Partial<StepState>): InstanceState {
  return { ...state, steps: { ...state.steps, [name]: { ...step(state, name), ...patch } } };
}

function withComp(state: InstanceState, name: string, patch: Partial<CompensationState>): InstanceState {
  const prev = step(state, name).compensation ?? {
    status: 'pending', attempt: 0, commands: [], awaiting: null, startedAt: null, finishedAt: null, lastError: null,
  };
  return withStep(state, name, { compensation: { ...prev, ...patch } });
}

/** Marks a step's completion: it takes the next place in the compensation order. */
function finished(state: InstanceState, name: string, patch: Partial<StepState>, at: number): InstanceState {
  const seq = state.seq + 1;
  return { ...withStep(state, name, { ...patch, awaiting: null, finishedAt: at, doneSeq: seq }), seq };
}

function plan(state: InstanceState) {
  if (state.compensation === null) throw new Error(`instance ${state.id} has no compensation plan`);
  return state.compensation;
}

function apply(s: InstanceState, e: Exclude<SagaEvent, { type: 'SagaStarted' }>): InstanceState {
  switch (e.type) {
    case 'StepSkipped': {
      const next = withStep(s, e.step, { status: 'skipped', startedAt: e.at, finishedAt: e.at });
      return e.pivot === true ? { ...next, pastPivot: true } : next;
    }
    case 'StepDispatched': {
      const prev = step(s, e.step);
      return withStep(s, e.step, {
        status: 'running', attempt: e.attempt, commands: [...prev.commands, e.commandId], awaiting: e.commandId,
        startedAt: prev.startedAt ?? e.at,
      });
    }
    case 'WaitStarted':
      return withStep(s, e.step, { status: 'running', attempt: 1, startedAt: e.at });
    case 'ForEachStarted':
      return withStep(s, e.step, { status: 'running', startedAt: e.at, items: e.items });
    case 'DelayStarted':
      // The step's result once it ends: the time it waited for.
      return withStep(s, e.step, { status: 'running', attempt: 1, startedAt: e.at, output: { until: formatIsoTime(e.until) } });
    case 'ChildStarted': {
      const prev = step(s, e.step);
      return withStep(s, e.step, {
        status: 'running', attempt: 1, commands: [...prev.commands, e.childId], awaiting: e.childId, startedAt: prev.startedAt ?? e.at,
      });
    }
    case 'ChildCompensationRequested': {
      const prev = step(s, e.step).compensation;
      return withComp(s, e.step, {
        status: 'running', attempt: (prev?.attempt ?? 0) + 1, commands: [...(prev?.commands ?? []), e.childId], awaiting: e.childId,
        startedAt: prev?.startedAt ?? e.at,
      });
    }
    case 'StepSucceeded': {
      const next = finished(s, e.step, { status: 'succeeded', output: e.output, outcome: 'done' }, e.at);
      return e.pivot ? { ...next, pastPivot: true } : next;
    }
    case 'StepAttemptFailed':
      return withStep(s, e.step, { status: 'retrying', awaiting: null, lastError: e.error });
    case 'StepFailed':
      return finished(s, e.step, { status: e.status, lastError: e.error, outcome: e.outcome }, e.at);
    case 'StepGivenUp':
      return finished(s, e.step, {
        status: e.status, outcome: e.outcome, lastError: step(s, e.step).lastError ?? 'given up: the saga began to compensate',
      }, e.at);
    case 'CompensationStarted':
      return { ...s, status: 'compensating', compensation: { reason: e.reason, queue: e.queue } };
    case 'CompensationDispatched': {
      const prev = step(s, e.step).compensation;
      return withComp(s, e.step, {
        status: 'running', attempt: e.attempt, commands: [...(prev?.commands ?? []), e.commandId], awaiting: e.commandId,
        startedAt: prev?.startedAt ?? e.at,
      });
    }
    case 'CompensationAttemptFailed':
      return withComp(s, e.step, { status: 'retrying', awaiting: null, lastError: e.error });
    case 'StepCompensated': {
      const p = plan(s);
      const next = withComp(s, e.step, { status: 'compensated', awaiting: null, finishedAt: e.at });
      return { ...next, status: 'compensating', compensation: { ...p, queue: p.queue.filter((n) => n !== e.step) } } as InstanceState;
    }
    case 'CompensationFailed':
      return withComp(s, e.step, { status: 'compensation_failed', awaiting: null, finishedAt: e.at, lastError: e.error });
    case 'LateSuccessRecorded': {
      const prev = step(s, e.step);
      if (e.queue === null) return withStep(s, e.step, { output: e.output, outcome: 'done' });
      const p = plan(s);
      const next = finished(s, e.step, { status: 'succeeded', output: e.output, outcome: 'done', awaiting: null, finishedAt: prev.finishedAt ?? e.at }, e.at);
      // A late success reopens a compensated instance: that step still has to be undone.
      const status = s.status === 'compensated' ? 'compensating' : s.status;
      return { ...next, status, compensation: { ...p, queue: e.queue } } as InstanceState;
    }
    case 'CompensationResumed': {
      const p = plan(s);
      const head = p.queue[0];
      const next = head === undefined ? s : withComp(s, head, { status: 'pending', attempt: 0, awaiting: null, finishedAt: null });
      return { ...next, status: 'compensating', compensation: p } as InstanceState;
    }
    case 'ForwardResumed': {
      const prev = step(s, e.step);
      const next = withStep(s, e.step, { ...emptyStep, commands: prev.commands, startedAt: prev.startedAt, lastError: prev.lastError });
      return { ...next, status: 'running', compensation: null } as InstanceState;
    }
    case 'SagaCompleted':
      return { ...s, status: 'completed', compensation: null } as InstanceState;
    case 'SagaCompensated':
      return { ...s, status: 'compensated', compensation: plan(s) } as InstanceState;
    case 'SagaFailed':
      return { ...s, status: 'failed', compensation: s.compensation, failure: { step: e.step, error: e.error } } as InstanceState;
    // Stryker disable next-line ConditionalExpression: exhaustive switch, checked by the compiler
    default:
      return assertNever(e);
  }
}
