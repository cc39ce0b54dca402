import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { KINDS_DEFS, publish, sound, stepReaches } from './kinds.js';

/**
 * An event that arrives before its wait step has started is kept for the instance of its
 * correlation id and delivered when the wait starts (issue 12), end to end on nats-server and
 * a SQLite file: approval-order's reservation is held by the participant while the approval
 * arrives; once the reservation goes through, the wait starts and takes the kept approval at
 * once, instead of waiting 4 s for an approval that was already consumed, and timing out.
 */
const w = await startWorld(t, { definitions: KINDS_DEFS });
const shape = { compensable: ['reserve-inventory', 'charge-payment'], commandSteps: ['reserve-inventory', 'charge-payment', 'ship-order'] };

t.test('an approval published while the reservation is held ends the wait as soon as it starts', async (t) => {
  const orderId = 'o-early~holdreserve';
  const r = await w.api.req<{ id: string }>('POST', '/v1/sagas/approval-order/instances', { input: order(orderId), correlationId: 'c-early' });
  t.equal(r.status, 201);
  const id = r.body.id;
  await stepReaches(w, id, 'reserve-inventory');

  const early = await w.api.metric('sagad_messages_total', 'outcome="early"');
  const approval = await publish(w, 'orders.events', 'OrderApproved', orderId, { orderId, approver: 'm-early' }, { correlationId: 'c-early' });
  await waitFor(async () => (await w.api.metric('sagad_messages_total', 'outcome="early"')) > early, 10_000, { what: 'the approval to be kept' });
  t.equal((await w.api.instance(id)).steps.find((s) => s.name === 'await-approval')?.state, 'pending', 'the wait had not started when it came');

  w.flag(orderId, 'reserve');
  const done = await w.api.settled(id, 20_000);
  t.equal(done.state, 'completed', 'the saga completes on the kept approval', w.diag());
  const history = await w.api.history(id);
  t.match(history.find((h) => h.type === 'StepSucceeded' && h.data.step === 'await-approval')?.data, { replyId: approval.eventId, output: { approver: 'm-early' } },
    'its wait ended on that very event');
  t.same(realEffects(w.ledger(), id), [['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'done'], ['ship-order', 'do', 'done']]);
  sound(t, w, sagaViolations(done, history, w.ledger(), shape));
  t.equal(await w.api.metric('sagad_early_events_total', 'outcome="delivered"'), 1, 'delivered once');
});
