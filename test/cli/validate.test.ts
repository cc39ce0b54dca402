import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../../cli/program.js';

const root = new URL('../..', import.meta.url).pathname;

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

t.test('the shipped definitions validate, one line per saga', async (t) => {
  const r = await cli(['validate', join(root, 'saga-definitions.yaml'), join(root, 'sagas/order-fulfillment.yaml'), join(root, 'sagas/trip-booking.yaml')]);
  t.equal(r.code, 0, r.err);
  t.equal(r.err, '');
  t.match(r.out, /saga-definitions\.yaml: ok order-fulfillment \(3 steps, pivot ship-order; starts on orders\.events OrderPlaced; deadline 10m; hash [0-9a-f]{12}\)/);
  t.match(r.out, /trip-booking\.yaml: ok trip-booking \(.*parallel, wait/);
  t.equal(r.out.trim().split('\n').length, 3);
});

t.test('an invalid file prints every error with its line and exits 1', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, [
    'sagas:',
    '  - name: bad',
    '    defaults: { timeout: 5 seconds }',
    '    steps:',
    '      - name: a',
    '        command: { subject: x.c, type: A }',
    '        reply: { subject: x.e, success: [AOk] }',
    '        tiemout: 5s',
    '',
  ].join('\n'));
  const r = await cli(['defs', 'validate', file]);
  t.equal(r.code, 1);
  t.equal(r.out, '');
  t.match(r.err, `${file}:3:26: sagas[0].defaults.timeout: \`5 seconds\` is not a duration. Write a duration like 500ms, 30s, 10m or 1h`);
  t.match(r.err, `${file}:8:9: sagas[0].steps[0].tiemout: unknown field \`tiemout\`. Did you mean \`timeout\`?`);
  t.match(r.err, /1 of 1 file invalid/);
});

t.test('a missing file is an error, a missing argument a usage error', async (t) => {
  const missing = await cli(['validate', '/nonexistent/defs.yaml']);
  t.equal(missing.code, 1);
  t.match(missing.err, '/nonexistent/defs.yaml:1:1');
  const usage = await cli(['validate']);
  t.equal(usage.code, 2);
  t.match(usage.err, /missing required argument/);
  const help = await cli(['validate', '--help']);
  t.equal(help.code, 0);
  t.match(help.out, /Examples:/);
});
