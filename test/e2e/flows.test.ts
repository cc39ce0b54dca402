import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import type { HistoryEntry, InstanceDoc } from './api-client.js';
import { startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';

/**
 * One order-fulfillment instance per scenario, end to end: sagad from dist/, a real
 * nats-server and the scripted participant, judged from the API, the journal and the
 * participant's ledger.
 */
const w = await startWorld(t);

interface Outcome { doc: InstanceDoc; history: HistoryEntry[] }

/** Starts an order, waits for its end state, and returns its document and journal. */
async function run(orderId: string, timeoutMs = 20_000): Promise<Outcome> {
  const started = await w.api.started(order(orderId));
  const doc = await w.api.settled(started.id, timeoutMs);
  return { doc, history: await w.api.history(doc.id) };
}

const types = (h: HistoryEntry[], step?: string) => h.filter((e) => step === undefined || e.data.step === step).map((e) => e.type);
const stepState = (doc: InstanceDoc, name: string) => doc.steps.find((s) => s.name === name);

t.test('happy path: reserve, charge and ship each done once, completed', async (t) => {
  const { doc, history } = await run('o-happy');
  t.equal(doc.state, 'completed', 'completed', w.diag());
  t.same(realEffects(w.ledger(), doc.id), [
    ['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'done'], ['ship-order', 'do', 'done'],
  ], 'the participant did each step once');
  t.same(doc.steps.map((s) => [s.name, s.state, s.attempts]), [
    ['reserve-inventory', 'succeeded', 1], ['charge-payment', 'succeeded', 1], ['ship-order', 'succeeded', 1],
  ]);
  t.same(types(history), [
    'SagaStarted', 'StepDispatched', 'StepSucceeded', 'StepDispatched', 'StepSucceeded', 'StepDispatched', 'StepSucceeded', 'SagaCompleted',
  ], 'the journal');
  t.same(sagaViolations(doc, history, w.ledger()), [], 'saga guarantee', w.diag());
});

t.test('a business failure at each step compensates what was done, latest first', async (t) => {
  t.test('out of stock at the first step: nothing to compensate', async (t) => {
    const { doc, history } = await run('o-oos~oos');
    t.equal(doc.state, 'compensated', 'compensated', w.diag());
    t.same(realEffects(w.ledger(), doc.id), [['reserve-inventory', 'do', 'declined']], 'no compensation was sent');
    t.equal(stepState(doc, 'reserve-inventory')?.state, 'failed');
    t.same(sagaViolations(doc, history, w.ledger()), [], 'saga guarantee', w.diag());
  });

  t.test('payment declined: the reservation is released', async (t) => {
    const { doc, history } = await run('o-decline~decline');
    t.equal(doc.state, 'compensated', 'compensated', w.diag());
    t.same(realEffects(w.ledger(), doc.id), [
      ['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'declined'], ['reserve-inventory', 'undo', 'done'],
    ]);
    t.same(doc.steps.map((s) => s.state), ['compensated', 'failed', 'pending']);
    t.same(sagaViolations(doc, history, w.ledger()), [], 'saga guarantee', w.diag());
  });

  t.test('shipment rejected at the pivot: refund, then release', async (t) => {
    const { doc, history } = await run('o-shipreject~shipreject');
    t.equal(doc.state, 'compensated', 'compensated', w.diag());
    t.same(realEffects(w.ledger(), doc.id), [
      ['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'done'], ['ship-order', 'do', 'declined'],
      ['charge-payment', 'undo', 'done'], ['reserve-inventory', 'undo', 'done'],
    ]);
    t.same(history.filter((h) => h.type === 'StepCompensated').map((h) => h.data.step), ['charge-payment', 'reserve-inventory'], 'journal order');
    t.same(sagaViolations(doc, history, w.ledger()), [], 'saga guarantee', w.diag());
  });
});

t.test('a step whose replies never come times out with an unknown outcome and is compensated like a done step', async (t) => {
  const { doc, history } = await run('o-silent~silentreserve');
  t.equal(doc.state, 'compensated', 'compensated', w.diag());
  t.match(history.find((h) => h.type === 'StepFailed')?.data, { step: 'reserve-inventory', status: 'timed_out', outcome: 'unknown' });
  t.equal(stepState(doc, 'reserve-inventory')?.attempts, 4, 'all four attempts were sent');
  t.same(realEffects(w.ledger(), doc.id), [['reserve-inventory', 'do', 'done'], ['reserve-inventory', 'undo', 'done']],
    'the reservation that was made is released');
  t.same(sagaViolations(doc, history, w.ledger()), [], 'saga guarantee', w.diag());
});

t.test('retryable replies are retried, then the step succeeds', async (t) => {
  const { doc, history } = await run('o-busy~busy2');
  t.equal(doc.state, 'completed', 'completed', w.diag());
  t.ok((stepState(doc, 'charge-payment')?.attempts ?? 0) >= 3, 'two busy attempts, then the one that succeeded', w.diag());
  const failedAttempts = history.filter((h) => h.type === 'StepAttemptFailed' && h.data.step === 'charge-payment');
  t.match(failedAttempts.slice(0, 2).map((h) => h.data), [{ attempt: 1, error: /PaymentGatewayBusy/ }, { attempt: 2, error: /PaymentGatewayBusy/ }]);
  t.same(realEffects(w.ledger(), doc.id).filter(([step]) => step === 'charge-payment'), [['charge-payment', 'do', 'done']], 'charged once');
  t.same(sagaViolations(doc, history, w.ledger()), [], 'saga guarantee', w.diag());
});

t.test('a dropped reply times out; the retry is answered from the idempotency key', async (t) => {
  const { doc, history } = await run('o-drop~dropreserve');
  t.equal(doc.state, 'completed', 'completed', w.diag());
  t.ok((stepState(doc, 'reserve-inventory')?.attempts ?? 0) >= 2, 'retried after the timeout');
  t.match(history.find((h) => h.type === 'StepAttemptFailed')?.data, { step: 'reserve-inventory', attempt: 1, error: /no reply within 600 ms/ });
  const reserve = w.ledger().filter((e) => e.sagaId === doc.id && e.step === 'reserve-inventory');
  t.same(reserve.map((e) => [e.attempt, e.effect]).slice(0, 2), [[1, 'done'], [2, 'duplicate']], 'done once, the retry is a duplicate');
  t.same(reserve.slice(1).filter((e) => e.effect !== 'duplicate'), [], 'every later attempt is a duplicate too');
  t.equal(reserve[0]?.key, reserve[1]?.key, 'both attempts carry the same Idempotency-Key');
  t.not(reserve[0]?.commandId, reserve[1]?.commandId, 'each attempt is a new message');
  t.same(sagaViolations(doc, history, w.ledger()), [], 'saga guarantee', w.diag());
});

t.test('duplicated replies change nothing', async (t) => {
  const ignoredBefore = await w.api.metric('sagad_inputs_ignored_total', 'reason="duplicate"');
  const seenBefore = await w.api.metric('sagad_messages_total', 'outcome="duplicate"');
  const { doc } = await run('o-dup~dupreplies');
  t.equal(doc.state, 'completed', 'completed', w.diag());
  // Each of the three replies came three times: once more with the same eventId, once as a new message.
  await waitFor(async () => (await w.api.metric('sagad_messages_total', 'outcome="duplicate"')) >= seenBefore + 3, 10_000, { what: 'the redelivered eventIds' });
  await waitFor(async () => (await w.api.metric('sagad_inputs_ignored_total', 'reason="duplicate"')) >= ignoredBefore + 3, 10_000, { what: 'the repeated answers' });
  await waitFor(() => w.sagadIdle(), 10_000, { what: 'sagad to consume every reply' });
  const history = await w.api.history(doc.id);
  // An attempt may time out on a busy machine and be sent again: that is not what the duplicates did.
  t.same(types(history).filter((type) => type !== 'StepDispatched' && type !== 'StepAttemptFailed'), [
    'SagaStarted', 'StepSucceeded', 'StepSucceeded', 'StepSucceeded', 'SagaCompleted',
  ], 'the journal is that of a happy path: each step succeeded once, the saga completed once');
  t.same((await w.api.instance(doc.id)).state, 'completed');
  t.same(sagaViolations(doc, history, w.ledger()), [], 'saga guarantee', w.diag());
});

t.test('a reply to an earlier attempt counts while the step is still active', async (t) => {
  const { doc, history } = await run('o-slow~slowcharge1300');
  t.equal(doc.state, 'completed', 'completed', w.diag());
  const dispatched = history.filter((h) => h.type === 'StepDispatched' && h.data.step === 'charge-payment');
  t.ok(dispatched.length >= 2, 'attempt 1 timed out and was retried');
  const success = history.find((h) => h.type === 'StepSucceeded' && h.data.step === 'charge-payment');
  const answered = w.ledger().find((e) => e.replyId === success?.data.replyId);
  t.equal(answered?.commandId, dispatched[0]?.data.commandId, 'the success that counted answered attempt 1', w.diag({ success, answered }));
  t.same(realEffects(w.ledger(), doc.id).filter(([step]) => step === 'charge-payment'), [['charge-payment', 'do', 'done']], 'charged once');
  t.same(sagaViolations(doc, history, w.ledger()), [], 'saga guarantee', w.diag());
});

t.test('a success that arrives after its step was given up is compensated', async (t) => {
  const lateBefore = await w.api.metric('sagad_inputs_ignored_total', 'reason="late"');
  const { id } = await w.api.started(order('o-late~slowcharge3000'));
  // The charge is made at once, but its reply only comes 3 s later: cancel in between.
  await waitFor(() => w.ledger().some((e) => e.sagaId === id && e.step === 'charge-payment' && e.effect === 'done'), 10_000, { what: 'the charge' });
  const cancel = await w.api.cancel(id, 'customer changed their mind');
  t.equal(cancel.status, 200, 'cancel accepted', w.diag({ body: cancel.body }));
  const doc = await w.api.settled(id);
  t.equal(doc.state, 'compensated', 'compensated', w.diag());
  const history = await w.api.history(id);
  t.match(history.find((h) => h.type === 'StepGivenUp')?.data, { step: 'charge-payment', outcome: 'unknown' });
  t.same(realEffects(w.ledger(), id), [
    ['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'done'], ['charge-payment', 'undo', 'done'], ['reserve-inventory', 'undo', 'done'],
  ], 'the charge that happened is refunded, then the stock released');
  // The late success reaches sagad afterwards and changes nothing.
  await waitFor(async () => (await w.api.metric('sagad_inputs_ignored_total', 'reason="late"')) > lateBefore, 10_000, { what: 'the late reply' });
  t.same(types(await w.api.history(id)), types(history), 'the late reply added nothing to the journal');
  t.equal((await w.api.instance(id)).state, 'compensated');
  t.same(sagaViolations(doc, history, w.ledger()), [], 'saga guarantee', w.diag());
});
