import t from 'tap';
import { evolve, type InstanceState, type SagaEvent } from '../../engine/core/index.js';
import { observeChange } from '../../engine/metrics/observe-change.js';
import { Metrics, type ScrapeGauges } from '../../engine/metrics/registry.js';
import { parseExposition, valueOf } from '../helpers/exposition.js';

/**
 * forEach elements in the metrics: every element of a step shares one `step` label
 * (`reserve[]`), so an input of a thousand lines cannot make a thousand series; the step
 * itself keeps its own name.
 */
const noGauges: ScrapeGauges = { instances: [], timersPending: 0, outboxBacklog: 0, outboxOldestAt: null, deadLetters: 0, consumerLag: 0, now: 0 };

t.test('element durations, retries and compensations count under one label per forEach step', async (t) => {
  const m = new Metrics();
  const events: SagaEvent[] = [
    { type: 'SagaStarted', at: 0, instanceId: 'i-1', saga: 'bulk', definitionHash: 'h', key: null, correlationId: 'c', input: {}, event: null, deadlineAt: null },
    { type: 'ForEachStarted', at: 0, step: 'reserve', items: [1, 2, 3] },
    ...[0, 1, 2].map((i): SagaEvent => ({ type: 'StepDispatched', at: 0, step: `reserve[${i}]`, attempt: 1, commandId: `c${i}`, timeoutAt: 5000 })),
    { type: 'StepAttemptFailed', at: 500, step: 'reserve[2]', attempt: 1, error: 'busy', retryAt: 1000 },
    { type: 'StepSucceeded', at: 1000, step: 'reserve[0]', replyId: 'r0', output: {}, pivot: false },
    { type: 'StepSucceeded', at: 2000, step: 'reserve[1]', replyId: 'r1', output: {}, pivot: false },
    { type: 'StepFailed', at: 3000, step: 'reserve[2]', error: 'out of stock', status: 'failed', outcome: 'not_done' },
    { type: 'StepGivenUp', at: 3000, step: 'reserve', status: 'failed', outcome: 'not_done' },
    { type: 'CompensationStarted', at: 3000, reason: { kind: 'step_failed', step: 'reserve[2]', message: 'no' }, queue: ['reserve[1]', 'reserve[0]'] },
    { type: 'CompensationDispatched', at: 3000, step: 'reserve[1]', attempt: 1, commandId: 'u1', timeoutAt: 8000 },
    { type: 'StepCompensated', at: 3500, step: 'reserve[1]', replyId: 'r2' },
  ];
  const state = events.reduce<InstanceState | undefined>((s, e) => evolve(s, e), undefined) as InstanceState;
  observeChange(m, { state, events });
  const x = parseExposition(await m.render(noGauges));
  t.equal(valueOf(x, 'sagad_step_duration_seconds_count', { saga: 'bulk', step: 'reserve[]', outcome: 'succeeded' }), 2, 'both successes in one series');
  t.equal(valueOf(x, 'sagad_step_duration_seconds_sum', { saga: 'bulk', step: 'reserve[]', outcome: 'succeeded' }), 3, '1 s and 2 s');
  t.equal(valueOf(x, 'sagad_step_duration_seconds_count', { saga: 'bulk', step: 'reserve[]', outcome: 'failed' }), 1);
  t.equal(valueOf(x, 'sagad_step_duration_seconds_count', { saga: 'bulk', step: 'reserve', outcome: 'given_up' }), 1, 'the step itself keeps its name');
  t.equal(valueOf(x, 'sagad_step_retries_total', { saga: 'bulk', step: 'reserve[]' }), 1);
  t.equal(valueOf(x, 'sagad_compensation_duration_seconds_sum', { saga: 'bulk', step: 'reserve[]', outcome: 'compensated' }), 0.5);
  for (const i of [0, 1, 2]) t.equal(valueOf(x, 'sagad_step_duration_seconds_count', { saga: 'bulk', step: `reserve[${i}]`, outcome: 'succeeded' }), undefined, `no series of its own for reserve[${i}]`);
});
