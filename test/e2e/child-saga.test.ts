import t from 'tap';
import { join } from 'node:path';
import { cli } from '../cli/helpers.js';
import { order, type InstanceDoc } from './api-client.js';
import { FIXTURES, startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { sound, stepEvents, stepReaches } from './kinds.js';

/**
 * The `saga` step end to end (sagad, nats-server, the participant, a SQLite file;
 * fixtures/delay-child.yaml): parent-order charges in the child saga charge-child. The child
 * is started once with its parent's commit and is visible with its parent; its end is the
 * step's outcome; a completed child is compensated (refunded) when the parent compensates
 * after a rejected shipment; a declined child fails the step; a cancel of the parent while
 * its child runs cancels the child; a kill -9 while the child runs loses and repeats nothing.
 */
const DEFS = join(FIXTURES, 'delay-child.yaml');
const w = await startWorld(t, { definitions: DEFS });
const parentShape = { compensable: ['reserve-inventory'], commandSteps: ['reserve-inventory', 'ship-order'] };
const childShape = { compensable: ['charge-payment'], commandSteps: ['charge-payment'] };

type Doc = Omit<InstanceDoc, 'steps'> & { parentId?: string; parent?: { id: string; saga: string; step: string }; steps: (InstanceDoc['steps'][number] & { child?: string })[] };

async function startParent(orderId: string): Promise<Doc> {
  const r = await w.api.req<Doc>('POST', '/v1/sagas/parent-order/instances', { input: order(orderId) });
  if (r.status !== 201) throw new Error(`start answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

t.test('a completed child is the step\'s result, and is visible with its parent', async (t) => {
  const p = await startParent('o-child-ok');
  const done = await w.api.settled(p.id) as Doc;
  t.equal(done.state, 'completed', 'the parent completes', w.diag());
  const childId = done.steps.find((s) => s.name === 'pay')?.child;
  t.equal(childId, `${p.id}.pay.1`, 'the step names its child, whose id derives from the parent and step');
  const child = await w.api.instance(childId ?? '') as Doc;
  t.match(child, { saga: 'charge-child', state: 'completed', parentId: p.id, parent: { id: p.id, saga: 'parent-order', step: 'pay' } }, 'the child names its parent');
  const history = await w.api.history(p.id);
  const pay = history.find((h) => h.type === 'StepSucceeded' && h.data.step === 'pay');
  const paymentId = (pay?.data.output as { steps?: Record<string, { paymentId?: string }> } | undefined)?.steps?.['charge-payment']?.paymentId;
  t.ok(typeof paymentId === 'string' && paymentId.startsWith('pay-'), 'the step\'s output holds the child\'s step results', { output: pay?.data.output });
  t.same(realEffects(w.ledger(), childId ?? ''), [['charge-payment', 'do', 'done']], 'the child charged once');
  sound(t, w, sagaViolations(done, history, w.ledger(), parentShape));
  sound(t, w, sagaViolations(child, await w.api.history(child.id), w.ledger(), childShape), 'the child\'s saga guarantee');
  const described = await cli(['describe', childId ?? '', '--db', w.dbFile], { columns: 200 });
  t.match(described.out, new RegExp(`Parent: +${p.id} \\(parent-order, step pay\\)`), 'sagactl describe names the parent', { out: described.out, err: described.err });
  const parentDescribed = await cli(['describe', p.id, '--db', w.dbFile], { columns: 200 });
  t.match(parentDescribed.out, new RegExp(`Children: +${p.id}\\.pay\\.1 \\(step pay\\)`), 'and the parent its child');
  const list = await w.api.list({ saga: 'charge-child' });
  t.equal(list.filter((s) => s.id.startsWith(`${p.id}.`)).length, 1, 'exactly one child was started');
});

t.test('the definition shows the saga step and its child', async (t) => {
  const r = await w.api.req<{ steps: { name: string; kind: string; saga?: string; timeout?: number | null }[] }>('GET', '/v1/definitions/parent-order');
  t.equal(r.status, 200);
  t.match(r.body.steps[1], { name: 'pay', kind: 'saga', saga: 'charge-child', timeout: 20_000 });
  const d = await w.api.req<{ steps: { name: string; kind: string; for?: number | null; until?: string | null }[] }>('GET', '/v1/definitions/dated-order');
  t.match(d.body.steps[1], { name: 'ship-day', kind: 'delay', for: null, until: '$input.shipAt' });
});

t.test('a rejected shipment compensates the completed child (a refund) before the reservation', async (t) => {
  const p = await startParent('o-child-undo~shipreject');
  const done = await w.api.settled(p.id) as Doc;
  t.equal(done.state, 'compensated', 'the parent compensates', w.diag());
  const childId = `${p.id}.pay.1`;
  const child = await w.api.settled(childId);
  t.equal(child.state, 'compensated', 'its completed child is compensated', w.diag());
  const history = await w.api.history(p.id);
  t.same(stepEvents(history, 'StepSucceeded', 'StepFailed', 'StepCompensated'), [
    ['StepSucceeded', 'reserve-inventory'], ['StepSucceeded', 'pay'], ['StepFailed', 'ship-order'], ['StepCompensated', 'pay'], ['StepCompensated', 'reserve-inventory'],
  ], 'the child is undone first, then the reservation');
  t.same(realEffects(w.ledger(), childId), [['charge-payment', 'do', 'done'], ['charge-payment', 'undo', 'done']], 'the payment was charged and refunded once');
  t.same(realEffects(w.ledger(), p.id), [['reserve-inventory', 'do', 'done'], ['ship-order', 'do', 'declined'], ['reserve-inventory', 'undo', 'done']],
    'the reservation was made and released, the shipment rejected');
  // The refund happened before the release: compensation in reverse order across parent and child.
  const ledger = w.ledger();
  const refund = ledger.find((e) => e.sagaId === childId && e.action === 'undo');
  const release = ledger.find((e) => e.sagaId === p.id && e.action === 'undo');
  t.ok(refund !== undefined && release !== undefined && refund.seq < release.seq, 'the refund came before the release');
  sound(t, w, sagaViolations(done, history, w.ledger(), parentShape));
  sound(t, w, sagaViolations(child, await w.api.history(childId), w.ledger(), childShape), 'the child\'s saga guarantee');
});

t.test('a declined child fails the step; the parent compensates its own steps', async (t) => {
  const p = await startParent('o-child-decline~decline');
  const done = await w.api.settled(p.id) as Doc;
  t.equal(done.state, 'compensated', 'the parent compensates', w.diag());
  t.match(done.reason, /step pay failed: child saga charge-child .* ended compensated/, 'because its child compensated');
  const child = await w.api.instance(`${p.id}.pay.1`);
  t.equal(child.state, 'compensated', 'the child compensated itself');
  t.same(realEffects(w.ledger(), p.id), [['reserve-inventory', 'do', 'done'], ['reserve-inventory', 'undo', 'done']]);
  sound(t, w, sagaViolations(done, await w.api.history(p.id), w.ledger(), parentShape));
});

t.test('cancelling the parent while its child waits cancels the child', async (t) => {
  const p = await startParent('o-child-cancel~holdcharge');
  await stepReaches(w, p.id, 'pay', ['running']);
  const childId = `${p.id}.pay.1`;
  await stepReaches(w, childId, 'charge-payment', ['running', 'retrying']);
  const why = await cli(['why', p.id, '--db', w.dbFile], { columns: 200 });
  t.match(why.out, new RegExp(`waiting\\s+for\\s+the\\s+child\\s+saga\\s+${p.id}\\.pay\\.1\\s+of\\s+step\\s+pay\\s+to\\s+end`), 'sagactl why names the child it waits for', { out: why.out, err: why.err });
  const r = await w.api.req('POST', `/v1/instances/${p.id}/cancel`, { reason: 'customer left' });
  t.equal(r.status, 200, 'the cancel is accepted', { body: r.body });
  const child = await w.api.settled(childId);
  t.equal(child.state, 'compensated', 'the child is cancelled and compensates', w.diag());
  const done = await w.api.settled(p.id);
  t.equal(done.state, 'compensated', 'the parent ends compensated once its child did', w.diag());
  t.match((await w.api.history(childId)).find((h) => h.type === 'CompensationStarted')?.data, { reason: { kind: 'cancelled', message: `its parent parent-order ${p.id} compensates` } });
  w.flag('o-child-cancel~holdcharge', 'charge');
});

t.test('kill -9 while the child runs: after the restart the child ends, and its parent with it; one child, one charge', async (t) => {
  const p = await startParent('o-child-kill~slowcharge800');
  const childId = `${p.id}.pay.1`;
  await stepReaches(w, childId, 'charge-payment', ['running', 'retrying']);
  await w.sagad.kill9();
  await w.restartSagad();
  const done = await w.api.settled(p.id, 30_000);
  t.equal(done.state, 'completed', 'the parent completes after the restart', w.diag());
  const child = await w.api.instance(childId);
  t.equal(child.state, 'completed', 'its child completed');
  t.equal((await w.api.list({ saga: 'charge-child' })).filter((s) => s.id.startsWith(`${p.id}.`)).length, 1, 'one child');
  t.same(realEffects(w.ledger(), childId), [['charge-payment', 'do', 'done']], 'charged once');
  sound(t, w, sagaViolations(done, await w.api.history(p.id), w.ledger(), parentShape));
  sound(t, w, sagaViolations(child, await w.api.history(childId), w.ledger(), childShape), 'the child\'s saga guarantee');
});
