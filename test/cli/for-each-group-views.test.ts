/** What the CLI views make of a forEach group: an element step's definition facts, `defs show`, `simulate --help`. */
import { join } from 'node:path';
import t from 'tap';
import { definitionDetail } from '../../engine/api/definition-view.js';
import { loadSagas } from '../../engine/testing/index.js';
import { leafDetail, maxAttempts } from '../../cli/views/definition-facts.js';
import { diffDefinitions } from '../../cli/defs-diff.js';
import { cli } from './helpers.js';

const file = join(import.meta.dirname, '../../sagas/pick-and-pack.yaml');
const saga = loadSagas(file)['pick-and-pack'];
if (saga === undefined) throw new Error('no pick-and-pack saga');
const doc = definitionDetail(saga);

t.test('the definition document lists a group with its steps; an element step is described by its group step', async (t) => {
  t.match(doc.steps[0], { name: 'pick-lines', kind: 'forEach', items: '$input.lines', maxConcurrency: 2, maxItems: 200 });
  t.same(doc.steps[0]?.steps?.map((s) => [s.name, s.kind, s.when, s.command?.type]), [['reserve', 'command', null, 'ReserveInventory'], ['pick', 'command', '$item.quantity > 0', 'PickLine']]);
  t.equal(doc.steps[0]?.command, undefined, 'the group itself sends nothing');
  t.equal(leafDetail(doc, 'pick-lines[3].pick')?.command?.type, 'PickLine');
  t.equal(maxAttempts(leafDetail(doc, 'pick-lines[0].reserve')), 3, "so `get` shows an element step's attempts out of 3");
  t.equal(maxAttempts(leafDetail(doc, 'pick-lines[0].reserve'), true), 10, "and its compensation's out of 10");
  t.equal(leafDetail(doc, 'pick-lines[0].pack'), undefined, 'a step the group does not have names nothing');
  t.equal(leafDetail(doc, 'pack-order[0].reserve'), undefined, 'nor does a step that is no group');
});

t.test('defs show lists a group, then each of its steps as element i runs it', async (t) => {
  const r = await cli(['defs', 'show', 'pick-and-pack', '--file', file], { columns: 200 });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /\npick-lines +forEach \$input\.lines \(2 at a time, at most 200\) /);
  t.match(r.out, /\n {2}pick-lines\[i\]\.reserve +inventory\.commands ReserveInventory +InventoryReserved ✗ OutOfStock ↻ InventoryBusy +5s +3 +ReleaseInventory \(10 attempts\)/);
  t.match(r.out, /\n {2}pick-lines\[i\]\.pick +warehouse\.commands PickLine .*\$item\.quantity > 0/);
});

t.test('simulate --help says how to script a group step', async (t) => {
  const r = await cli(['simulate', '--help']);
  t.match(r.out, /GROUP\[I\]\.STEP=\.\.\. +step STEP of element I of a forEach group \(GROUP\.STEP=\.\.\. every element's\)/);
});

t.test("defs diff names a changed step of a group by its own name, payload included", async (t) => {
  const { readFileSync, writeFileSync, mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'group-diff-'));
  const changed = join(dir, 'pick-and-pack.yaml');
  writeFileSync(changed, readFileSync(file, 'utf8')
    .replace('sku: "{% $item.sku %}"\n                quantity', 'sku: "{% $item.code %}"\n                quantity')
    .replace('maxConcurrency: 2', 'maxConcurrency: 3'));
  const after = loadSagas(changed)['pick-and-pack'];
  if (after === undefined) throw new Error('no changed saga');
  const [d] = diffDefinitions([saga], [after]);
  t.equal(d?.change, 'changed');
  t.same(d?.steps.map((s) => [s.step, s.change, s.fields.map((f) => f.path)]), [
    ['pick-lines', 'changed', ['maxConcurrency']],
    ['pick', 'changed', ['command.payload.sku']],
  ]);
});
