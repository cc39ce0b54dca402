import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { KINDS_DEFS, publish, sound, startOrder, stepEvents, stepReaches, types } from './kinds.js';

/**
 * Wait steps end to end (sagad, nats-server, the participant, a SQLite file): an event that
 * matches this instance ends the wait and its payload feeds later steps; the same event type
 * for another order matches nothing; a wait whose event never comes times out and the saga
 * compensates what was done (approval-order in fixtures/kinds.yaml, wait timeout 4 s).
 */
const w = await startWorld(t, { definitions: KINDS_DEFS });
const shape = { compensable: ['reserve-inventory', 'charge-payment'], commandSteps: ['reserve-inventory', 'charge-payment', 'ship-order'] };

t.test('an approval of this order ends its wait; approvals of other orders match nothing, and a wait without one times out', async (t) => {
  const a = await startOrder(w, 'approval-order', 'o-wait-a');
  const b = await startOrder(w, 'approval-order', 'o-wait-b');
  // Events are published only once both waits have started (an earlier one would be kept: early-event.test.ts).
  await stepReaches(w, a.id, 'await-approval', ['running']);
  await stepReaches(w, b.id, 'await-approval', ['running']);

  // An approval of an order nobody waits for: each waiting instance looks at it and finds it is not theirs.
  const unmatched = await w.api.metric('sagad_inputs_ignored_total', 'reason="unmatched"');
  await publish(w, 'orders.events', 'OrderApproved', 'o-wait-c', { orderId: 'o-wait-c', approver: 'm-0' });
  await waitFor(async () => (await w.api.metric('sagad_inputs_ignored_total', 'reason="unmatched"')) >= unmatched + 2, 10_000, { what: 'both waiting instances to be offered the stranger' });
  t.same([(await w.api.instance(a.id)).steps[1]?.state, (await w.api.instance(b.id)).steps[1]?.state], ['running', 'running'], 'both still wait');

  const approval = await publish(w, 'orders.events', 'OrderApproved', 'o-wait-a', { orderId: 'o-wait-a', approver: 'm-1' });
  const doneA = await w.api.settled(a.id);
  t.equal(doneA.state, 'completed', 'the approved order completes', w.diag());
  const historyA = await w.api.history(a.id);
  t.match(historyA.find((h) => h.type === 'StepSucceeded' && h.data.step === 'await-approval')?.data, { replyId: approval.eventId, output: { approver: 'm-1' } },
    'its wait ended on that very event');
  t.same(realEffects(w.ledger(), a.id), [['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'done'], ['ship-order', 'do', 'done']]);
  sound(t, w, sagaViolations(doneA, historyA, w.ledger(), shape));
  t.equal((await w.api.instance(b.id)).steps.find((s) => s.name === 'await-approval')?.state, 'running', 'the other order was not approved by it');

  const doneB = await w.api.settled(b.id);
  t.equal(doneB.state, 'compensated', 'the order never approved times out and is compensated', w.diag());
  const historyB = await w.api.history(b.id);
  t.match(historyB.find((h) => h.type === 'StepFailed')?.data, { step: 'await-approval', status: 'timed_out', outcome: 'not_done' });
  t.same(stepEvents(historyB, 'StepSucceeded', 'StepFailed', 'StepCompensated'), [
    ['StepSucceeded', 'reserve-inventory'], ['StepFailed', 'await-approval'], ['StepCompensated', 'reserve-inventory'],
  ], 'only the reservation was done, and it is released');
  t.same(realEffects(w.ledger(), b.id), [['reserve-inventory', 'do', 'done'], ['reserve-inventory', 'undo', 'done']]);
  sound(t, w, sagaViolations(doneB, historyB, w.ledger(), shape));

  // Its approval, once the saga has given up waiting, changes nothing.
  const unrelated = await w.api.metric('sagad_messages_total', 'outcome="unrelated"');
  await publish(w, 'orders.events', 'OrderApproved', 'o-wait-b', { orderId: 'o-wait-b', approver: 'm-2' });
  await waitFor(async () => (await w.api.metric('sagad_messages_total', 'outcome="unrelated"')) > unrelated, 10_000, { what: 'the late approval to be consumed' });
  t.same(types(await w.api.history(b.id)), types(historyB), 'a late approval adds nothing to the journal');
});
