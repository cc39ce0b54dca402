import t from 'tap';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import { uuidv7 } from '../../engine/ids.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import type { HistoryEntry } from './api-client.js';
import { startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';

/** What an operator does through the HTTP API: retry a failed compensation, cancel, and the pivot's limit. */
const w = await startWorld(t);

const types = (h: HistoryEntry[]) => h.map((e) => e.type);
const stepOf = async (id: string, name: string) => (await w.api.instance(id)).steps.find((s) => s.name === name);

t.test('a compensation that keeps failing leaves the instance failed until an operator retries it', async (t) => {
  const orderId = 'o-rf~refundfail~shipreject';
  const { id } = await w.api.started(order(orderId));
  const failed = await w.api.settled(id);
  t.equal(failed.state, 'failed', 'failed once the refund ran out of attempts', w.diag());
  t.match(failed.failure, { step: 'charge-payment' });
  t.same(failed.steps.map((s) => [s.name, s.state]), [
    ['reserve-inventory', 'succeeded'], ['charge-payment', 'compensation_failed'], ['ship-order', 'failed'],
  ]);
  t.equal(failed.steps[1]?.compensation?.attempts, 4, 'all four refund attempts were sent');
  t.same(realEffects(w.ledger(), id), [
    ['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'done'], ['ship-order', 'do', 'refused'],
  ], 'nothing undone yet: the release waits behind the refund, it is not skipped');

  const early = await w.api.retry(id);
  t.equal(early.status, 200, 'a retry while the refund still fails is accepted');
  t.equal((await w.api.settled(id, 20_000, ['failed'])).state, 'failed', 'and fails again');

  w.flag(orderId, 'refund');
  const retried = await w.api.retry(id);
  t.equal(retried.status, 200, 'retry accepted', w.diag({ body: retried.body }));
  t.equal(retried.body.state, 'compensating');
  const doc = await w.api.settled(id, 20_000, ['compensated']);
  t.equal(doc.state, 'compensated', 'compensated', w.diag());
  t.same(realEffects(w.ledger(), id), [
    ['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'done'], ['ship-order', 'do', 'refused'],
    ['charge-payment', 'undo', 'done'], ['reserve-inventory', 'undo', 'done'],
  ], 'refunded once, then released');
  t.same(sagaViolations(doc, await w.api.history(id), w.ledger()), [], 'saga guarantee', w.diag());

  const again = await w.api.retry(id);
  t.match([again.status, again.body.code], [409, 'SAGA_ERR_INVALID_STATE'], 'only a failed instance can be retried');
});

t.test('cancelling a running instance compensates it; the step in flight counts as unknown', async (t) => {
  const { id } = await w.api.started(order('o-cancel~holdcharge'));
  await waitFor(async () => ['running', 'retrying'].includes((await stepOf(id, 'charge-payment'))?.state ?? ''), 10_000, { what: 'the charge to be sent' });
  const cancel = await w.api.cancel(id, 'fraud suspected');
  t.equal(cancel.status, 200, 'cancel accepted', w.diag({ body: cancel.body }));
  t.equal(cancel.body.state, 'compensating');
  const doc = await w.api.settled(id);
  t.equal(doc.state, 'compensated', 'compensated', w.diag());
  t.match(doc.reason, /fraud suspected/);
  const history = await w.api.history(id);
  t.match(history.find((h) => h.type === 'StepGivenUp')?.data, { step: 'charge-payment', outcome: 'unknown' });
  t.same(realEffects(w.ledger(), id), [
    ['reserve-inventory', 'do', 'done'], ['charge-payment', 'undo', 'nothing-to-undo'], ['reserve-inventory', 'undo', 'done'],
  ], 'the unknown charge gets a refund that finds nothing to undo, then the stock is released');
  t.same(sagaViolations(doc, history, w.ledger()), [], 'saga guarantee', w.diag());

  const twice = await w.api.cancel(id, 'again');
  t.match([twice.status, twice.body.code], [409, 'SAGA_ERR_INVALID_STATE'], 'a compensated instance cannot be cancelled');

  // A charge that turns up after its refund (a stale redelivery) is refused by the participant, and
  // its answer, to a command sagad never sent, changes nothing.
  w.flag('o-cancel~holdcharge', 'charge');
  const stale = { eventId: uuidv7(), eventType: 'ChargePayment', aggregateId: 'o-cancel~holdcharge', timestamp: new Date().toISOString(), version: 1, correlationId: doc.correlationId, causationId: null, payload: { orderId: 'o-cancel~holdcharge', amount: 42 } };
  const { js } = await w.link();
  await publishEnvelope(js, 'payments.commands', encodeEnvelope(stale), { 'Saga-Id': id, 'Saga-Step': 'charge-payment', 'Saga-Attempt': '9', 'Idempotency-Key': `${id}/charge-payment/do` }, stale.eventId);
  const refused = await waitFor(() => w.ledger().find((e) => e.commandId === stale.eventId), 10_000, { what: 'the stale charge in the ledger' });
  t.match(refused, { effect: 'refused', reason: 'undo came first', reply: 'PaymentDeclined' }, 'a do after its undo takes no effect');
  await waitFor(() => w.sagadIdle(), 10_000, { what: 'sagad to consume the answer' });
  t.same(types(await w.api.history(id)), types(history), 'the journal is unchanged');
  t.equal((await w.api.instance(id)).state, 'compensated');
});

t.test('cancelling once the pivot is sent is refused; the saga then completes', async (t) => {
  const orderId = 'o-pivot~holdship';
  const { id } = await w.api.started(order(orderId));
  await waitFor(async () => ['running', 'retrying'].includes((await stepOf(id, 'ship-order'))?.state ?? ''), 10_000, { what: 'the shipment to be sent' });
  const cancel = await w.api.cancel(id, 'too late');
  t.match([cancel.status, cancel.body.code], [409, 'SAGA_ERR_PAST_PIVOT'], 'past the pivot', w.diag({ body: cancel.body }));
  t.equal((await w.api.instance(id)).state, 'running', 'the instance runs on');
  w.flag(orderId, 'ship');
  const doc = await w.api.settled(id);
  t.equal(doc.state, 'completed', 'completed', w.diag());
  t.same(realEffects(w.ledger(), id), [
    ['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'done'], ['ship-order', 'do', 'done'],
  ]);
  t.same(sagaViolations(doc, await w.api.history(id), w.ledger()), [], 'saga guarantee', w.diag());
  const after = await w.api.cancel(id, 'after the end');
  t.match([after.status, after.body.code], [409, 'SAGA_ERR_INVALID_STATE']);
});
