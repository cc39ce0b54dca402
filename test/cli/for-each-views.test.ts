/** What the CLI views make of forEach steps: an element's definition facts, the history line of ForEachStarted. */
import { join } from 'node:path';
import t from 'tap';
import { definitionDetail } from '../../engine/api/definition-view.js';
import { loadSagas } from '../../engine/testing/index.js';
import { leafDetail, maxAttempts } from '../../cli/views/definition-facts.js';
import { eventDetail } from '../../cli/views/history.js';
import { cli } from './helpers.js';

const bulk = loadSagas(join(import.meta.dirname, '../../sagas/bulk-shipment.yaml'))['bulk-shipment'];
if (bulk === undefined) throw new Error('no bulk-shipment saga');
const doc = definitionDetail(bulk);

t.test('an element is described by its forEach step', async (t) => {
  t.match(doc.steps[0], { name: 'reserve-lines', kind: 'forEach', items: '$input.lines', maxConcurrency: 4, maxItems: 200, command: { type: 'ReserveInventory' } });
  t.equal(leafDetail(doc, 'reserve-lines[3]')?.name, 'reserve-lines');
  t.equal(maxAttempts(leafDetail(doc, 'reserve-lines[3]')), 3, 'so `get` shows an element\'s attempts out of 3');
  t.equal(maxAttempts(leafDetail(doc, 'reserve-lines[0]'), true), 10, 'and its compensation\'s out of 10');
  t.equal(leafDetail(doc, 'charge-payment[1]'), undefined, 'an index on a step that is no forEach names nothing');
  t.equal(leafDetail(doc, 'reserve-lines[x]'), undefined);
});

t.test('history says how many elements a forEach step runs', async (t) => {
  t.equal(eventDetail('ForEachStarted', { step: 'reserve-lines', items: [1, 2, 3] }, 0), 'reserve-lines runs once per element: 3 elements, reserve-lines[0] to reserve-lines[2]');
  t.equal(eventDetail('ForEachStarted', { step: 'reserve-lines', items: [1] }, 0), 'reserve-lines runs once per element: 1 element, reserve-lines[0]');
  t.equal(eventDetail('ForEachStarted', { step: 'reserve-lines', items: [] }, 0), 'reserve-lines runs once per element: no element');
});

t.test('defs show lists a forEach step, then what each element runs', async (t) => {
  const r = await cli(['defs', 'show', 'bulk-shipment', '--file', join(import.meta.dirname, '../../sagas/bulk-shipment.yaml')], { columns: 200 });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /\nreserve-lines +forEach \$input\.lines \(4 at a time, at most 200\) /);
  t.match(r.out, /\n {2}reserve-lines\[i\] +inventory\.commands ReserveInventory +InventoryReserved ✗ OutOfStock ↻ InventoryBusy +5s +3 +ReleaseInventory \(10 attempts\)/);
});
