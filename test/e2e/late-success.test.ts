import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { sound, stepEvents, types } from './kinds.js';

/**
 * A late success reopens a compensated instance (DESIGN section 1, point 3; golden trace 17):
 * charge attempt 1 is done at once but its reply comes 3.5 s late; attempt 2 is declined as a
 * suspected duplicate, so the saga releases the stock and ends compensated. Then attempt 1's
 * success arrives: the card was charged after all, so the instance compensates again and
 * refunds it.
 */
const w = await startWorld(t);

t.test('a success that arrives after the saga ended compensated is compensated too', async (t) => {
  const { id } = await w.api.started(order('o-reopen~slowcharge3500~declineretry'));
  await waitFor(async () => (await w.api.history(id)).some((h) => h.type === 'SagaCompensated'), 20_000, { what: 'the saga to end compensated a first time' });

  // Attempt 1's success is still on its way; wait until sagad has taken it in, either way.
  const late = await w.api.metric('sagad_inputs_ignored_total', 'reason="late"');
  await waitFor(async () => (await w.api.history(id)).some((h) => h.type === 'LateSuccessRecorded')
    || (await w.api.metric('sagad_inputs_ignored_total', 'reason="late"')) > late, 15_000, { what: 'the late success to reach sagad' });
  const doc = await waitFor(async () => {
    const d = await w.api.instance(id);
    return d.state === 'compensated' && d.steps[1]?.compensation?.state === 'compensated' ? d : undefined;
  }, 15_000, { what: 'the late charge to be refunded' }).catch(async () => w.api.instance(id));
  const history = await w.api.history(id);
  t.equal(doc.state, 'compensated', 'compensated again', w.diag());
  t.match(history.find((h) => h.type === 'LateSuccessRecorded')?.data, { step: 'charge-payment', queue: ['charge-payment'] }, 'the success reopened the instance', w.diag({ history: types(history) }));
  t.same(types(history).filter((x) => x !== 'StepDispatched' && x !== 'StepAttemptFailed'), [
    'SagaStarted', 'StepSucceeded', 'StepFailed', 'CompensationStarted', 'CompensationDispatched', 'StepCompensated', 'SagaCompensated',
    'LateSuccessRecorded', 'CompensationDispatched', 'StepCompensated', 'SagaCompensated',
  ], 'compensated once the decline counted, then reopened by the late success and compensated again', w.diag({ history }));
  t.match(history.find((h) => h.type === 'StepFailed')?.data, { step: 'charge-payment', outcome: 'not_done' }, 'the decline said nothing was charged');
  t.same(stepEvents(history, 'StepCompensated'), [['StepCompensated', 'reserve-inventory'], ['StepCompensated', 'charge-payment']]);
  t.same(realEffects(w.ledger(), id), [
    ['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'done'], ['charge-payment', 'do', 'declined'],
    ['reserve-inventory', 'undo', 'done'], ['charge-payment', 'undo', 'done'],
  ], 'charged once, refunded once');
  sound(t, w, sagaViolations(doc, history, w.ledger()));
});
