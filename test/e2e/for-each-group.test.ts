import { join } from 'node:path';
import t from 'tap';
import type { HistoryEntry, InstanceDoc } from './api-client.js';
import { FIXTURES, startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { sound, stepReaches } from './kinds.js';

/**
 * forEach over a group end to end on real NATS and SQLite (line-group in
 * fixtures/for-each-group.yaml): per line a ReserveInventory, then a BookCourier, two lines
 * at a time; element i's steps are `lines[i].reserve` and `lines[i].courier`, each with its own
 * Idempotency-Key, matched by its own reply; the participant's ledger (judge.ts) is the fact of
 * what was done and undone. When a line's courier is refused, every step of every line that
 * may have taken effect is undone, latest completion first, once; a sagad killed mid-group
 * carries on with the journaled lines after its restart.
 */
const w = await startWorld(t, { definitions: join(FIXTURES, 'for-each-group.yaml') });
const elementSteps = (n: number) => Array.from({ length: n }, (_, i) => [`lines[${i}].reserve`, `lines[${i}].courier`]).flat();
const shape = (n: number) => ({ compensable: [...elementSteps(n), 'charge-payment'], commandSteps: [...elementSteps(n), 'charge-payment', 'ship-order'] });
type History = readonly HistoryEntry[];
const at = (history: History, type: string, step: string) => history.findIndex((h) => h.type === type && h.data.step === step);
/** The element steps in the order they finished: succeeded, or given up with an unknown outcome (both are undone, latest first). */
const finishOrder = (history: History) => history
  .filter((h) => (h.type === 'StepSucceeded' || (h.type === 'StepGivenUp' && h.data.outcome === 'unknown')) && /\]\.[a-z]+$/.test(String(h.data.step)))
  .map((h) => String(h.data.step));

async function run(orderId: string, items: Record<string, unknown>[]) {
  const r = await w.api.req<InstanceDoc>('POST', '/v1/sagas/line-group/instances', { input: { orderId, total: 42, lines: items } });
  if (r.status !== 201) throw new Error(`start answered ${r.status}: ${JSON.stringify(r.body)}`);
  const id = r.body.id;
  const doc = await w.api.settled(id);
  return { id, doc, history: await w.api.history(id) };
}

t.test("each line runs its steps in order, two lines at a time; the pivot reads the group's results in line order", async (t) => {
  // Line 0's reservation answers 1.5 s late: line 2 starts once line 1 has done both its steps.
  const { id, doc, history } = await run('o-fg-ok', [{ sku: 'a', directives: '~slowreserve1500' }, { sku: 'b' }, { sku: 'c', courier: false }]);
  t.equal(doc.state, 'completed', 'completed', w.diag());
  for (const i of [0, 1]) t.ok(at(history, 'StepDispatched', `lines[${i}].courier`) > at(history, 'StepSucceeded', `lines[${i}].reserve`), `line ${i} books its courier after its reservation`);
  const third = at(history, 'StepDispatched', 'lines[2].reserve');
  const firstDone = Math.min(...[0, 1].map((i) => at(history, 'StepSucceeded', `lines[${i}].courier`)).filter((n) => n >= 0));
  t.ok(third > firstDone, 'the third line waited until a line had done all its steps');
  t.ok(at(history, 'StepDispatched', 'lines[1].reserve') < at(history, 'StepSucceeded', 'lines[0].reserve'), 'two lines at once');
  t.ok(at(history, 'StepSkipped', 'lines[2].courier') >= 0, "the third line's courier is skipped by its own when");
  const out = (step: string) => history.find((h) => h.type === 'StepSucceeded' && h.data.step === step)?.data.output as Record<string, string>;
  const stage = history.find((h) => h.type === 'StepSucceeded' && h.data.step === 'lines')?.data.output;
  t.same(stage, [
    { reserve: out('lines[0].reserve'), courier: out('lines[0].courier') },
    { reserve: out('lines[1].reserve'), courier: out('lines[1].courier') },
    { reserve: out('lines[2].reserve') },
  ], '$steps.lines is one object per line, in line order');
  t.equal(new Set([0, 1, 2].map((i) => out(`lines[${i}].reserve`)?.reservationId)).size, 3, 'each line got its own reservation');
  t.same(realEffects(w.ledger(), id).map(([step, action]) => `${action} ${step}`).sort(), [
    'do charge-payment', 'do lines[0].courier', 'do lines[0].reserve', 'do lines[1].courier', 'do lines[1].reserve', 'do lines[2].reserve', 'do ship-order',
  ], "each line's steps done once (keys <instance>/lines[i].step/do), then the charge and the shipment");
  t.same(doc.steps.map((s) => [s.name, s.state]), [
    ['lines', 'succeeded'], ['lines[0].reserve', 'succeeded'], ['lines[0].courier', 'succeeded'], ['lines[1].reserve', 'succeeded'], ['lines[1].courier', 'succeeded'],
    ['lines[2].reserve', 'succeeded'], ['lines[2].courier', 'skipped'], ['charge-payment', 'succeeded'], ['ship-order', 'succeeded'],
  ], 'the instance lists the group, then each line\'s steps in order');
  const metrics = (await w.api.req<string>('GET', '/metrics')).body;
  t.match(metrics, /step="lines\[\]\.reserve"/, 'one metrics label for every line\'s reserve');
  t.notMatch(metrics, /step="lines\[0\]\.reserve"/, 'no label per line');
  const def = await w.api.req<{ steps: { name: string; kind: string; steps?: { name: string; command?: { type: string } }[] }[] }>('GET', '/v1/definitions/line-group');
  t.same(def.body.steps[0]?.steps?.map((s) => [s.name, s.command?.type]), [['reserve', 'ReserveInventory'], ['courier', 'BookCourier']], 'the definition API lists the group\'s steps');
  sound(t, w, sagaViolations(doc, history, w.ledger(), { ...shape(3), commandSteps: [...elementSteps(2), 'lines[2].reserve', 'charge-payment', 'ship-order'] }));
});

t.test("a line's courier is refused while another line is in flight: every step that may have taken effect is undone, latest first", async (t) => {
  // Line 0's courier answers 2.5 s late; line 1 is reserved and its courier refused 0.8 s after it was sent, while line 0's is out.
  const { id, doc, history } = await run('o-fg-refused', [{ sku: 'a', directives: '~slowcourier2500' }, { sku: 'b', directives: '~nocourier~slowcourier800' }, { sku: 'c' }]);
  t.equal(doc.state, 'compensated', 'compensated', w.diag());
  t.match(history.find((h) => h.type === 'StepFailed')?.data, { step: 'lines[1].courier', outcome: 'not_done' }, "the refused courier fails the saga");
  const finished = finishOrder(history);
  t.same([...finished].sort(), ['lines[0].courier', 'lines[0].reserve', 'lines[1].reserve'], 'the refused step and the line never started are not among those to undo');
  t.same(realEffects(w.ledger(), id).filter(([, action]) => action === 'undo'), finished.reverse().map((n) => [n, 'undo', 'done']),
    'each step that may have taken effect undone once, latest completion first, across lines');
  t.notOk(realEffects(w.ledger(), id).some(([step]) => step.startsWith('lines[2]') || step === 'charge-payment'), 'nothing after the failure started');
  sound(t, w, sagaViolations(doc, history, w.ledger(), shape(3)));
});

t.test('sagad is killed while a line holds its courier: after the restart the same lines go on, no step is done twice', async (t) => {
  const orderId = 'o-fg-crash';
  const r = await w.api.req<InstanceDoc>('POST', '/v1/sagas/line-group/instances', { input: { orderId, total: 5, lines: [{ sku: 'a' }, { sku: 'b', directives: '~holdcourier' }, { sku: 'c' }] } });
  t.equal(r.status, 201);
  const id = r.body.id;
  await stepReaches(w, id, 'lines[2].courier', ['succeeded']);
  await w.sagad.kill9();
  await w.restartSagad();
  w.flag(orderId, 'courier');
  const doc = await w.api.settled(id);
  const history = await w.api.history(id);
  t.equal(doc.state, 'completed', 'completed', w.diag());
  t.equal(history.filter((h) => h.type === 'ForEachStarted').length, 1, 'the lines were evaluated once, before the crash');
  t.same(realEffects(w.ledger(), id).filter(([, action]) => action === 'do').map(([step]) => step).sort(),
    [...elementSteps(3), 'charge-payment', 'ship-order'].sort(), 'each step done once across the restart');
  sound(t, w, sagaViolations(doc, history, w.ledger(), shape(3)));
});
