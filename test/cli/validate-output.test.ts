/** `sagactl validate -o json|jsonl`: the result as documents on stdout, exit codes as for the table. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cli } from './helpers.js';

const root = join(import.meta.dirname, '../..');

/** A valid file, an invalid one and one with a warning; `dir` is the test's own directory. */
function files(dir: string) {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, [
    'sagas:',
    '  - name: bad',
    '    defaults: { timeout: 5s }',
    '    steps:',
    '      - name: a',
    '        pivot: true',
    '        command: { subject: "inventory.>", type: A }',
    '        reply: { subject: x.e, success: [AOk] }',
    '',
  ].join('\n'));
  const warned = join(dir, 'warned.yaml');
  writeFileSync(warned, [
    'sagas:',
    '  - name: risky',
    '    defaults: { timeout: 5s }',
    '    steps:',
    '      - name: a',
    '        pivot: true',
    '        command: { subject: x.c, type: A, payload: { v: "{% $sum([1..$input.n]) %}" } }',
    '        reply: { subject: x.e, success: [AOk] }',
    '',
  ].join('\n'));
  return { good: join(root, 'saga-definitions.yaml'), bad, warned };
}

t.test('-o json prints one document with each file, its sagas, errors and warnings', async (t) => {
  const { good, bad, warned } = files(t.testdir());
  const r = await cli(['validate', good, bad, warned, '-o', 'json']);
  t.equal(r.code, 1, 'one file is invalid');
  t.equal(r.err, '', 'nothing on stderr');
  const doc = JSON.parse(r.out) as unknown;
  t.match(doc, {
    ok: false,
    files: [
      { file: good, ok: true, sagas: ['order-fulfillment'], errors: [], warnings: [] },
      {
        file: bad, ok: false, sagas: [],
        errors: [{ file: bad, line: 7, column: 29, path: 'sagas[0].steps[0].command.subject', message: '`inventory.>` has a wildcard, but a command goes to one subject', hint: /^write the exact subject/ }],
        warnings: [],
      },
      { file: warned, ok: true, sagas: ['risky'], errors: [], warnings: [{ saga: 'risky', where: 'steps.a.command.payload.v', expression: '$sum([1..$input.n])', message: /range/ }] },
    ],
  });
  t.same(Object.keys((doc as { files: object[] }).files[1] ?? {}), ['file', 'ok', 'sagas', 'errors', 'warnings']);
  t.same(Object.keys((doc as { files: { errors: object[] }[] }).files[1]?.errors[0] ?? {}), ['file', 'line', 'column', 'path', 'message', 'hint']);
});

t.test('-o jsonl prints one line per file; exit code 0 when all are valid', async (t) => {
  const { good, bad, warned } = files(t.testdir());
  const r = await cli(['defs', 'validate', good, bad, '-o', 'jsonl']);
  t.equal(r.code, 1);
  t.equal(r.err, '');
  const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { file: string; ok: boolean });
  t.match(lines, [{ file: good, ok: true }, { file: bad, ok: false, errors: [{ line: 7 }] }]);
  t.equal(lines.length, 2);
  const fine = await cli(['-o', 'jsonl', 'validate', good, warned]);
  t.equal(fine.code, 0, fine.err);
  t.match(fine.out.trim().split('\n').map((l) => JSON.parse(l) as unknown), [{ file: good, ok: true }, { file: warned, ok: true, warnings: [{ saga: 'risky' }] }]);
});

t.test('a file that cannot be read is a file that is not ok, in json too', async (t) => {
  const r = await cli(['validate', '/nonexistent/defs.yaml', '-o', 'json']);
  t.equal(r.code, 1);
  t.match(JSON.parse(r.out), { ok: false, files: [{ file: '/nonexistent/defs.yaml', ok: false, errors: [{ line: 1, column: 1, message: /cannot read the definitions file: .*ENOENT/ }] }] });
});

t.test('the table is unchanged, and --help describes the documents', async (t) => {
  const { good, bad } = files(t.testdir());
  const r = await cli(['validate', good, bad]);
  t.equal(r.code, 1);
  t.match(r.out, /saga-definitions\.yaml: ok order-fulfillment \(3 steps/);
  t.match(r.err, `${bad}:7:29: sagas[0].steps[0].command.subject: \`inventory.>\` has a wildcard, but a command goes to one subject.`);
  t.match(r.err, /1 of 2 files invalid/);
  const help = await cli(['validate', '--help']);
  t.match(help.out, /With -o json, one document on stdout/);
  t.match(help.out, /with -o jsonl, one\s+such file object a line/);
});
