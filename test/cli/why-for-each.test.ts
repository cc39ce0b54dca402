/** `sagactl why` on a forEach in flight: the elements it waits on, not the stage that holds them. */
import { join } from 'node:path';
import t from 'tap';
import { definitionDetail } from '../../engine/api/definition-view.js';
import { instanceDocument } from '../../engine/api/views.js';
import { start } from '../../engine/core/index.js';
import { loadSagas } from '../../engine/testing/index.js';
import { explain } from '../../cli/why.js';

const saga = loadSagas(join(import.meta.dirname, '../../sagas/bulk-shipment.yaml'))['bulk-shipment'];
if (saga === undefined) throw new Error('no bulk-shipment saga');

t.test('a forEach with two lines in flight: why names each line attempt 1 of 3, and the stage itself not at all', async (t) => {
  const now = Date.parse('2026-11-27T12:00:00Z');
  let n = 0;
  const env = { now, newId: () => `id-${++n}`, random: () => 0.5 };
  const lines = [{ sku: 'A', quantity: 1 }, { sku: 'B', quantity: 2 }];
  const d = start(saga, { id: 'bulk-1', input: { orderId: 'o-1', lines }, key: null, correlationId: 'bulk-1', event: null, causationId: 'bulk-1' }, env);
  const instance = instanceDocument(d.state, saga);
  t.same(instance.steps.filter((s) => s.state === 'running').map((s) => s.name).sort(), ['reserve-lines', 'reserve-lines[0]', 'reserve-lines[1]'], 'the stage and its two lines run');
  const a = explain({ instance, definition: definitionDetail(saga), now: now + 1_000 });
  t.same(a.steps.map((s) => [s.step, s.attempt, s.maxAttempts]), [['reserve-lines[0]', 1, 3], ['reserve-lines[1]', 1, 3]], 'the lines, each attempt 1 of 3');
  t.notMatch(a.text, /attempt 0/, 'no attempt 0 of the stage');
  t.match(a.text, /2 steps run in parallel/);
});
