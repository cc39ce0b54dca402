import { join } from 'node:path';
import t from 'tap';
import type { InstanceDoc } from './api-client.js';
import { FIXTURES, startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { sound, stepEvents, stepReaches } from './kinds.js';

/**
 * forEach end to end on real NATS and SQLite (bulk-order in fixtures/for-each.yaml): one
 * ReserveInventory per line, two at a time, each line the step `reserve-lines[i]` with its own
 * Idempotency-Key, matched by its own reply; the participant's ledger (judge.ts) is the fact
 * of what was done and undone. When a line fails, every line that may have been reserved is
 * released, latest completion first, once; a line still in flight is given up and released as
 * an unknown outcome; more lines than maxItems fail the saga before anything is sent; a
 * sagad killed mid-stage carries on with the journaled lines after its restart.
 */
const w = await startWorld(t, { definitions: join(FIXTURES, 'for-each.yaml') });
const lines = (n: number) => Array.from({ length: n }, (_, i) => `reserve-lines[${i}]`);
/**
 * The elements in the order they finished, from the journal: succeeded, or given up with an
 * unknown outcome (both may have taken effect, so both are released, latest first). The
 * participant's delays make one order likely; the assertions take the order that happened.
 */
const finishOrder = (history: { type: string; data: Record<string, unknown> }[]) => history
  .filter((h) => (h.type === 'StepSucceeded' || (h.type === 'StepGivenUp' && h.data.outcome === 'unknown')) && /\[\d+\]$/.test(String(h.data.step)))
  .map((h) => String(h.data.step));
const shape = (n: number) => ({ compensable: [...lines(n), 'charge-payment'], commandSteps: [...lines(n), 'charge-payment', 'ship-order'] });

async function run(orderId: string, items: Record<string, unknown>[]) {
  const r = await w.api.req<InstanceDoc>('POST', '/v1/sagas/bulk-order/instances', { input: { orderId, total: 42, lines: items } });
  if (r.status !== 201) throw new Error(`start answered ${r.status}: ${JSON.stringify(r.body)}`);
  const id = r.body.id;
  const doc = await w.api.settled(id);
  return { id, doc, history: await w.api.history(id) };
}

t.test('every line is reserved, two at a time, and the pivot reads the reservations in line order', async (t) => {
  // Line 0 answers 1.5 s late: line 2 is sent as soon as line 1 is done, not before.
  const { id, doc, history } = await run('o-fe-ok', [{ sku: 'a', directives: '~slowreserve1500' }, { sku: 'b' }, { sku: 'c' }]);
  t.equal(doc.state, 'completed', 'completed', w.diag());
  t.same(stepEvents(history, 'StepDispatched').slice(0, 2), [['StepDispatched', 'reserve-lines[0]'], ['StepDispatched', 'reserve-lines[1]']], 'two lines at once');
  const third = history.findIndex((h) => h.type === 'StepDispatched' && h.data.step === 'reserve-lines[2]');
  const firstDone = history.findIndex((h) => h.type === 'StepSucceeded' && (h.data.step === 'reserve-lines[0]' || h.data.step === 'reserve-lines[1]'));
  t.ok(firstDone >= 0 && third > firstDone, 'the third line waited for a free slot');
  const outputs = lines(3).map((n) => (history.find((h) => h.type === 'StepSucceeded' && h.data.step === n)?.data.output as { reservationId: string }).reservationId);
  t.equal(new Set(outputs).size, 3, 'each line got its own reservation');
  const stage = history.find((h) => h.type === 'StepSucceeded' && h.data.step === 'reserve-lines');
  t.same((stage?.data.output as { reservationId: string }[]).map((o) => o.reservationId), outputs, '$steps.reserve-lines is the element results in element order');
  t.same(realEffects(w.ledger(), id).map(([step, action]) => `${action} ${step}`).sort(),
    ['do charge-payment', 'do reserve-lines[0]', 'do reserve-lines[1]', 'do reserve-lines[2]', 'do ship-order'], 'each line reserved once, then the charge and the shipment');
  t.same(doc.steps.map((s) => [s.name, s.state]), [
    ['reserve-lines', 'succeeded'], ['reserve-lines[0]', 'succeeded'], ['reserve-lines[1]', 'succeeded'], ['reserve-lines[2]', 'succeeded'],
    ['charge-payment', 'succeeded'], ['ship-order', 'succeeded'],
  ], 'the instance lists each line after its step');
  sound(t, w, sagaViolations(doc, history, w.ledger(), shape(3)));
});

t.test('the charge is declined: every line is released, latest first, then nothing else', async (t) => {
  // Line 1 answers last: it is released first.
  const { id, doc, history } = await run('o-fe-decline~decline', [{ sku: 'a' }, { sku: 'b', directives: '~slowreserve1000' }]);
  t.equal(doc.state, 'compensated', 'compensated', w.diag());
  t.same(finishOrder(history).filter((n) => n.startsWith('reserve-lines')).length, 2, 'both lines finished');
  t.same(realEffects(w.ledger(), id).filter(([, action]) => action === 'undo'), finishOrder(history).reverse().map((n) => [n, 'undo', 'done']),
    'the line that finished last is released first');
  sound(t, w, sagaViolations(doc, history, w.ledger(), shape(2)));
});

t.test('a line out of stock while another is in flight: the one in flight is given up and released as an unknown outcome', async (t) => {
  // Line 0 is reserved at once but answers 2.5 s late; line 1 is reserved; line 2 is refused.
  const { id, doc, history } = await run('o-fe-oos', [{ sku: 'a', directives: '~slowreserve2500' }, { sku: 'b' }, { sku: 'c', directives: '~oos' }]);
  t.equal(doc.state, 'compensated', 'compensated', w.diag());
  t.match(history.find((h) => h.type === 'StepFailed')?.data, { step: 'reserve-lines[2]', outcome: 'not_done' }, 'the refused line fails the saga');
  const finished = finishOrder(history);
  t.same([...finished].sort(), ['reserve-lines[0]', 'reserve-lines[1]'], 'lines 0 and 1 finished (succeeded, or given up in flight); the refused line did not');
  t.same(realEffects(w.ledger(), id).filter(([, action]) => action === 'undo'), finished.reverse().map((n) => [n, 'undo', 'done']),
    'the line that finished last (the given-up one, unless its late answer came first) is released first; the refused line is not');
  t.notOk(realEffects(w.ledger(), id).some(([step]) => step === 'charge-payment'), 'nothing after the stage ran');
  sound(t, w, sagaViolations(doc, history, w.ledger(), shape(3)));
});

t.test('more lines than maxItems: the saga fails before anything is sent, and says why', async (t) => {
  const { id, doc, history } = await run('o-fe-many', Array.from({ length: 6 }, (_, i) => ({ sku: `s${i}` })));
  t.equal(doc.state, 'compensated', 'compensated', w.diag());
  t.match(doc.reason, /step reserve-lines failed: forEach items \$input\.lines gave 6 elements, more than maxItems 5/);
  t.same(realEffects(w.ledger(), id), [], 'the participant received nothing');
  t.notOk(history.some((h) => h.type === 'ForEachStarted'), 'no element was started');
  sound(t, w, sagaViolations(doc, history, w.ledger(), shape(0)));
});

t.test('sagad is killed while a line is held: after the restart the same lines go on, none is reserved twice', async (t) => {
  const orderId = 'o-fe-crash';
  // bulk-reserve: the same lines, retried for a minute, so the held line outlasts the restart however slow it is.
  const r = await w.api.req<InstanceDoc>('POST', '/v1/sagas/bulk-reserve/instances', { input: { orderId, lines: [{ sku: 'a' }, { sku: 'b', directives: '~holdreserve' }, { sku: 'c' }] } });
  t.equal(r.status, 201);
  const id = r.body.id;
  await stepReaches(w, id, 'reserve-lines[2]', ['succeeded']);
  await w.sagad.kill9();
  await w.restartSagad();
  w.flag(orderId, 'reserve');
  const doc = await w.api.settled(id);
  const history = await w.api.history(id);
  t.equal(doc.state, 'completed', 'completed', w.diag());
  t.equal(history.filter((h) => h.type === 'ForEachStarted').length, 1, 'the lines were evaluated once, before the crash');
  t.same(realEffects(w.ledger(), id).filter(([, action]) => action === 'do').map(([step]) => step).sort(),
    ['reserve-lines[0]', 'reserve-lines[1]', 'reserve-lines[2]'], 'each line reserved once across the restart');
  sound(t, w, sagaViolations(doc, history, w.ledger(), { compensable: lines(3), commandSteps: lines(3) }));
});
