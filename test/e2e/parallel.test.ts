import t from 'tap';
import { startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { KINDS_DEFS, sound, startOrder, stepEvents } from './kinds.js';

/**
 * Parallel groups end to end (parallel-order in fixtures/kinds.yaml): reserve, charge and a
 * courier booked at once, then the pivot. When one branch fails, the done steps of all
 * branches are compensated latest first, by when each finished, not by where it is written;
 * a branch still in flight is given up and compensated as an unknown outcome.
 */
const w = await startWorld(t, { definitions: KINDS_DEFS });
const shape = { compensable: ['reserve-inventory', 'charge-payment', 'book-courier'], commandSteps: ['reserve-inventory', 'charge-payment', 'book-courier', 'ship-order'] };
const BRANCHES = ['reserve-inventory', 'charge-payment', 'book-courier'];

async function run(orderId: string) {
  const { id } = await startOrder(w, 'parallel-order', orderId);
  const doc = await w.api.settled(id);
  return { id, doc, history: await w.api.history(id) };
}

t.test('all branches succeed: they are sent at once, and the pivot follows them all', async (t) => {
  const { id, doc, history } = await run('o-par-ok~slowreserve400');
  t.equal(doc.state, 'completed', 'completed', w.diag());
  const firstSuccess = history.findIndex((h) => h.type === 'StepSucceeded');
  t.same(history.slice(0, firstSuccess).filter((h) => h.type === 'StepDispatched').map((h) => h.data.step).sort(), [...BRANCHES].sort(),
    'every branch was dispatched before any of them answered');
  t.same(stepEvents(history, 'StepSucceeded').at(-2), ['StepSucceeded', 'reserve-inventory'], 'the slow reservation finished last among the branches');
  const ship = history.findIndex((h) => h.type === 'StepDispatched' && h.data.step === 'ship-order');
  t.ok(ship > history.findIndex((h) => h.type === 'StepSucceeded' && h.data.step === 'reserve-inventory'), 'the pivot waited for the slowest branch');
  t.same(realEffects(w.ledger(), id).map(([step]) => step).sort(), [...BRANCHES, 'ship-order'].sort(), 'each step done once');
  sound(t, w, sagaViolations(doc, history, w.ledger(), shape));
});

t.test('a branch fails: the done steps of the other branches are undone, latest first', async (t) => {
  // Courier refused, its answer 1.2 s late; the charge answers at once and the reservation after 0.5 s.
  const first = await run('o-par-fail1~nocourier~slowcourier1200~slowreserve500');
  t.equal(first.doc.state, 'compensated', 'compensated', w.diag());
  t.same(stepEvents(first.history, 'StepSucceeded', 'StepFailed', 'StepCompensated'), [
    ['StepSucceeded', 'charge-payment'], ['StepSucceeded', 'reserve-inventory'], ['StepFailed', 'book-courier'],
    ['StepCompensated', 'reserve-inventory'], ['StepCompensated', 'charge-payment'],
  ], 'the reservation finished last, so it is released first');
  t.same(realEffects(w.ledger(), first.id).filter(([, action]) => action === 'undo'), [['reserve-inventory', 'undo', 'done'], ['charge-payment', 'undo', 'done']]);
  t.same(first.doc.steps.map((s) => [s.name, s.state]), [
    ['reserve-inventory', 'compensated'], ['charge-payment', 'compensated'], ['book-courier', 'failed'], ['ship-order', 'pending'],
  ]);
  sound(t, w, sagaViolations(first.doc, first.history, w.ledger(), shape));

  // The same with the charge answering last: now the refund comes first.
  const second = await run('o-par-fail2~nocourier~slowcourier1200~slowcharge500');
  t.equal(second.doc.state, 'compensated', 'compensated', w.diag());
  t.same(realEffects(w.ledger(), second.id).filter(([, action]) => action === 'undo'), [['charge-payment', 'undo', 'done'], ['reserve-inventory', 'undo', 'done']],
    'the charge finished last, so it is refunded first');
  sound(t, w, sagaViolations(second.doc, second.history, w.ledger(), shape));
});

t.test('a branch fails while another is still in flight: that one is given up and compensated as an unknown outcome', async (t) => {
  const { id, doc, history } = await run('o-par-inflight~nocourier~holdcharge');
  t.equal(doc.state, 'compensated', 'compensated', w.diag());
  // The held charge is given up; the reservation may be too, should its reply come after the courier's failure.
  t.match(history.find((h) => h.type === 'StepGivenUp' && h.data.step === 'charge-payment')?.data, { step: 'charge-payment', outcome: 'unknown' }, 'the held charge is given up', w.diag());
  t.same(realEffects(w.ledger(), id).filter(([, action]) => action === 'undo'), [['charge-payment', 'undo', 'nothing-to-undo'], ['reserve-inventory', 'undo', 'done']],
    'the charge that never happened gets a refund that finds nothing, then the stock is released');
  sound(t, w, sagaViolations(doc, history, w.ledger(), shape));
});
