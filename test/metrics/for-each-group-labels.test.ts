import t from 'tap';
import { evolve, type InstanceState, type SagaEvent } from '../../engine/core/index.js';
import { observeChange } from '../../engine/metrics/observe-change.js';
import { Metrics, type ScrapeGauges } from '../../engine/metrics/registry.js';
import { parseExposition, valueOf } from '../helpers/exposition.js';

/**
 * forEach groups in the metrics: step `pick` of every element of group `lines` shares one
 * `step` label (`lines[].pick`), apart from the group's other steps, so the label set stays
 * bounded whatever the input; the group itself keeps its own name.
 */
const noGauges: ScrapeGauges = { instances: [], timersPending: 0, outboxBacklog: 0, outboxOldestAt: null, deadLetters: 0, consumerLag: 0, now: 0 };

t.test("each step of a group counts under one label for all elements, apart from the group's other steps", async (t) => {
  const m = new Metrics();
  const dispatched = (step: string, at: number): SagaEvent => ({ type: 'StepDispatched', at, step, attempt: 1, commandId: `c-${step}`, timeoutAt: at + 5000 });
  const succeeded = (step: string, at: number): SagaEvent => ({ type: 'StepSucceeded', at, step, replyId: `r-${step}`, output: {}, pivot: false });
  const events: SagaEvent[] = [
    { type: 'SagaStarted', at: 0, instanceId: 'i-1', saga: 'pack', definitionHash: 'h', key: null, correlationId: 'c', input: {}, event: null, deadlineAt: null },
    { type: 'ForEachStarted', at: 0, step: 'lines', items: [1, 2] },
    dispatched('lines[0].reserve', 0), dispatched('lines[1].reserve', 0),
    succeeded('lines[0].reserve', 1000), dispatched('lines[0].pick', 1000),
    succeeded('lines[1].reserve', 2000), dispatched('lines[1].pick', 2000),
    { type: 'StepAttemptFailed', at: 2500, step: 'lines[1].pick', attempt: 1, error: 'busy', retryAt: 3000 },
    succeeded('lines[0].pick', 4000),
    { type: 'StepFailed', at: 6000, step: 'lines[1].pick', error: 'no', status: 'failed', outcome: 'not_done' },
    { type: 'StepGivenUp', at: 6000, step: 'lines', status: 'failed', outcome: 'not_done' },
  ];
  const state = events.reduce<InstanceState | undefined>((s, e) => evolve(s, e), undefined) as InstanceState;
  observeChange(m, { state, events });
  const x = parseExposition(await m.render(noGauges));
  t.equal(valueOf(x, 'sagad_step_duration_seconds_count', { saga: 'pack', step: 'lines[].reserve', outcome: 'succeeded' }), 2, 'both reservations in one series');
  t.equal(valueOf(x, 'sagad_step_duration_seconds_sum', { saga: 'pack', step: 'lines[].reserve', outcome: 'succeeded' }), 3, '1 s and 2 s');
  t.equal(valueOf(x, 'sagad_step_duration_seconds_count', { saga: 'pack', step: 'lines[].pick', outcome: 'succeeded' }), 1, 'the picks in a series of their own');
  t.equal(valueOf(x, 'sagad_step_duration_seconds_count', { saga: 'pack', step: 'lines[].pick', outcome: 'failed' }), 1);
  t.equal(valueOf(x, 'sagad_step_retries_total', { saga: 'pack', step: 'lines[].pick' }), 1);
  t.equal(valueOf(x, 'sagad_step_duration_seconds_count', { saga: 'pack', step: 'lines', outcome: 'given_up' }), 1, 'the group itself keeps its name');
  for (const name of ['lines[0].pick', 'lines[1].reserve', 'lines[]']) {
    t.equal(valueOf(x, 'sagad_step_duration_seconds_count', { saga: 'pack', step: name, outcome: 'succeeded' }), undefined, `no series for ${name}`);
  }
});
