/** `sagactl validate` warns about a `schemas` key no message of the saga has: a misspelt key validates nothing. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cli } from './helpers.js';

const YAML = [
  'sagas:',
  '  - name: order',
  '    defaults: { timeout: 5s }',
  '    schemas:',
  '      InventoryReserverd@1: { type: object }',
  '      Reserve@2: { type: object }',
  '      Unrelated: { type: object }',
  '    steps:',
  '      - name: reserve',
  '        pivot: true',
  '        command: { subject: inventory.commands, type: Reserve, version: 2 }',
  '        reply: { subject: inventory.events, success: [InventoryReserved] }',
  '',
].join('\n');

t.test('a schemas key whose type no message of the saga has is a warning with the closest type; the file is still valid', async (t) => {
  const file = join(t.testdir(), 'defs.yaml');
  writeFileSync(file, YAML);
  const r = await cli(['validate', file]);
  t.equal(r.code, 0, 'a warning, not an error');
  t.match(r.out, /ok order \(1 step/);
  const lines = r.err.trim().split('\n');
  t.same(lines, [
    `${file}: warning: order: schemas.InventoryReserverd@1: no command, reply, wait or trigger of the saga has the type \`InventoryReserverd\`, so this schema checks nothing; did you mean \`InventoryReserved@1\`?`,
    `${file}: warning: order: schemas.Unrelated@1: no command, reply, wait or trigger of the saga has the type \`Unrelated\`, so this schema checks nothing`,
  ], 'Reserve@2 is the command\'s: no warning');
  const json = await cli(['validate', file, '-o', 'json']);
  t.match(JSON.parse(json.out), { ok: true, files: [{ warnings: [{ saga: 'order', where: 'schemas.InventoryReserverd@1', expression: null }, { where: 'schemas.Unrelated@1' }] }] });
});
