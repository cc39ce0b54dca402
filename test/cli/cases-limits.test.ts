/** `sagactl test --cases`: a cases file that is a YAML bomb, or not a file, is a located error, not a crash. */
import { join } from 'node:path';
import t from 'tap';
import { cli } from './helpers.js';

const defs = join(import.meta.dirname, '../../saga-definitions.yaml');

t.test('a cases file with an alias bomb is reported with its place and exit code 1', async (t) => {
  const levels = 'abcdefghi'.split('');
  const bomb = `${levels.map((l, i) => `${l}: &${l} [${i === 0 ? '"x","x","x","x","x","x","x","x","x"' : Array(9).fill(`*${levels[i - 1] ?? ''}`).join(',')}]`).join('\n')}\ncases: []\n`;
  const file = join(t.testdir({ 'cbomb.yaml': bomb }), 'cbomb.yaml');
  const r = await cli(['test', defs, '--cases', file]);
  t.equal(r.code, 1);
  t.equal(r.out, '');
  t.match(r.err, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:7:8: the aliases expand the file to more than 1,000,000 values \\(here \`\\*f\` repeats [\\d,]+\\)\\. An alias repeats`));
  t.match(r.err, `${file}: 1 problem; no case ran`);
  t.notMatch(r.err, /unexpected failure|bug in sagactl/);
});

t.test('a cases file that is a device is refused without reading it', async (t) => {
  const r = await cli(['test', defs, '--cases', '/dev/zero']);
  t.equal(r.code, 1);
  t.match(r.err, '/dev/zero:1:1: cannot read the cases file: /dev/zero is a character device, not a regular file. Name a regular file');
});

t.test('a cases file with a YAML syntax error gets the hint the definitions loader gives', async (t) => {
  const file = join(t.testdir({ 'bad.yaml': 'cases:\n\t- name: x\n' }), 'bad.yaml');
  const r = await cli(['test', defs, '--cases', file]);
  t.equal(r.code, 1);
  t.match(r.err, /YAML syntax error: .*\. Indent with spaces, not tabs/);
});
