import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { fixtureVariant, startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { sound, stepEvents } from './kinds.js';

/**
 * A cancel that lands while a step waits to be retried (DESIGN section 1, point 2): the step
 * is given up with an unknown outcome and compensated, its retry timer is cancelled, and no
 * `do` is sent after compensation began. The charge's retries wait 5 minutes here, without
 * jitter, so the cancel lands in that wait for certain, however loaded the machine (at 2 s with
 * the fixture's full jitter, a run of four test files at a time saw the retry go out before the
 * cancel); the test never waits for it.
 */
const w = await startWorld(t, {
  definitions: (dir) => fixtureVariant(dir, 'order.yaml', [
    ['        retry: { maxAttempts: 5, initialInterval: 100ms, maxInterval: 400ms }', '        retry: { maxAttempts: 5, initialInterval: 5m, maxInterval: 5m, jitter: none }'],
  ]),
});

t.test('cancelling while a step waits for its retry gives it up, compensates it, and sends it no more', async (t) => {
  const { id } = await w.api.started(order('o-cancel-retrying~busy1'));
  await waitFor(async () => (await w.api.instance(id)).steps[1]?.state === 'retrying', 10_000, { what: 'the busy charge to wait for its retry' });
  const cancel = await w.api.cancel(id, 'customer changed their mind');
  t.equal(cancel.status, 200, 'cancel accepted', w.diag({ body: cancel.body }));
  const doc = await w.api.settled(id);
  t.equal(doc.state, 'compensated', 'compensated', w.diag());
  const history = await w.api.history(id);
  t.match(history.find((h) => h.type === 'StepGivenUp')?.data, { step: 'charge-payment', outcome: 'unknown' }, 'the retrying charge counts as unknown');
  t.same(stepEvents(history, 'StepDispatched', 'CompensationDispatched'), [
    ['StepDispatched', 'reserve-inventory'], ['StepDispatched', 'charge-payment'],
    ['CompensationDispatched', 'charge-payment'], ['CompensationDispatched', 'reserve-inventory'],
  ], 'the charge was sent once, and nothing forward after the cancel');
  t.same(realEffects(w.ledger(), id), [['reserve-inventory', 'do', 'done'], ['charge-payment', 'undo', 'nothing-to-undo'], ['reserve-inventory', 'undo', 'done']],
    'the busy charge did nothing; its refund finds nothing; the stock is released');
  t.equal(await w.api.metric('sagad_timers_pending'), 0, 'the retry timer was cancelled with the rest');
  sound(t, w, sagaViolations(doc, history, w.ledger()));
});
