import { assertNever } from '../core/assert-never.js';
import { parseElement, parseGroupStep } from '../core/for-each.js';
import type { InstanceState, SagaEvent } from '../core/index.js';
import type { Metrics } from './registry.js';

/** What a committed change of one instance is, for the metrics: its events and the state after them. */
export interface CommittedChange {
  readonly state: InstanceState;
  readonly events: readonly SagaEvent[];
}

/** The step label: every element of a forEach stage shares one (`reserve[]`, a group's step `lines[].pick`), so the label set stays bounded. */
function stepLabel(step: string): string {
  const g = parseGroupStep(step);
  if (g !== null) return `${g.stage}[].${g.step}`;
  const e = parseElement(step);
  return e === null ? step : `${e.stage}[]`;
}

const seconds = (from: number | null | undefined, to: number): number => (from === null || from === undefined ? 0 : Math.max(0, to - from) / 1000);

/**
 * Records the durations and counts a committed change implies: step, compensation and saga
 * durations, retries, compensations begun, instances finished. Everything comes from the
 * change itself (each event's `at`, the start times the state after it keeps), so nothing is
 * read from the store; it runs after the commit, so an input that rolled back counts nothing.
 */
export function observeChange(m: Metrics, c: CommittedChange): void {
  const s = c.state;
  for (const e of c.events) {
    switch (e.type) {
      case 'StepSucceeded':
        m.stepDuration.observe({ saga: s.saga, step: stepLabel(e.step), outcome: 'succeeded' }, seconds(s.steps[e.step]?.startedAt, e.at));
        break;
      case 'StepFailed':
        m.stepDuration.observe({ saga: s.saga, step: stepLabel(e.step), outcome: e.status }, seconds(s.steps[e.step]?.startedAt, e.at));
        break;
      case 'StepGivenUp':
        m.stepDuration.observe({ saga: s.saga, step: stepLabel(e.step), outcome: 'given_up' }, seconds(s.steps[e.step]?.startedAt, e.at));
        break;
      case 'StepAttemptFailed':
        m.stepRetries.inc({ saga: s.saga, step: stepLabel(e.step) });
        break;
      case 'CompensationStarted':
        m.compensationsStarted.inc({ saga: s.saga, reason: e.reason.kind });
        break;
      case 'StepCompensated':
        m.compensationDuration.observe({ saga: s.saga, step: stepLabel(e.step), outcome: 'compensated' }, seconds(s.steps[e.step]?.compensation?.startedAt, e.at));
        break;
      case 'CompensationFailed':
        m.compensationDuration.observe({ saga: s.saga, step: stepLabel(e.step), outcome: 'failed' }, seconds(s.steps[e.step]?.compensation?.startedAt, e.at));
        break;
      case 'SagaCompleted':
      case 'SagaCompensated':
      case 'SagaFailed': {
        const outcome = e.type === 'SagaCompleted' ? 'completed' : e.type === 'SagaCompensated' ? 'compensated' : 'failed';
        m.sagaDuration.observe({ saga: s.saga, outcome }, seconds(s.createdAt, e.at));
        m.instancesFinished.inc({ saga: s.saga, state: outcome });
        break;
      }
      case 'CompensationAttemptFailed':
        m.compensationRetries.inc({ saga: s.saga, step: stepLabel(e.step) });
        break;
      // Dispatches, waits, skips, resumptions and late successes end nothing that is timed.
      case 'SagaStarted':
      case 'StepSkipped':
      case 'StepDispatched':
      case 'WaitStarted':
      case 'ForEachStarted':
      case 'DelayStarted':
      case 'ChildStarted':
      case 'ChildCompensationRequested':
      case 'CompensationDispatched':
      case 'LateSuccessRecorded':
      case 'CompensationResumed':
      case 'ForwardResumed':
        break;
      default:
        assertNever(e);
    }
  }
}
