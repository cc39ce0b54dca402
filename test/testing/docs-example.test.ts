/**
 * docs/testing.md works as written: its node:test example runs against the built package
 * (imported as `sagad/testing`, which needs `npm run build` first, as `npm test` does), and
 * its cases file passes `sagactl test --cases`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cli } from '../cli/helpers.js';

const root = join(import.meta.dirname, '../..');
const doc = readFileSync(join(root, 'docs/testing.md'), 'utf8');

function block(lang: string, after: string): string {
  const from = doc.indexOf(after);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(doc.slice(from));
  if (from < 0 || m === null) throw new Error(`docs/testing.md has no ${lang} block after ${after}`);
  return m[1] ?? '';
}

t.test('the node:test example passes, importing sagad/testing', async (t) => {
  // t.testdir() is inside the package, so `sagad/testing` resolves to this package's own exports.
  const dir = t.testdir();
  const file = join(dir, 'sagas.test.mjs');
  writeFileSync(file, block('js', '## In your own test suite'));
  const r = spawnSync(process.execPath, ['--test', file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  t.match(r.stdout, /# pass 3\n/);
  t.match(r.stdout, /# fail 0\n/);
});

t.test('the cases file of the docs passes', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'order-cases.yaml');
  writeFileSync(file, block('yaml', '## Your own cases'));
  const r = await cli(['test', join(root, 'saga-definitions.yaml'), '--cases', file]);
  t.equal(r.code, 0, r.out + r.err);
  t.match(r.out, /2 of 2 cases passed/);
});
