import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CliError, formatFailure } from '../../cli/errors.js';
import { shown, terminalSafe } from '../../cli/io.js';
import { renderFields, renderTable } from '../../cli/render/table.js';
import { makeStyle } from '../../cli/render/style.js';
import { runCli } from '../../cli/program.js';

/**
 * sagactl prints what others wrote (instance data, step errors, dead letters published by
 * whoever may publish on a subject, definition files): control characters a terminal acts on
 * are written as `\uXXXX` escapes, so such text cannot clear the screen, move the cursor,
 * hide a line behind a carriage return or set the clipboard (OSC 52).
 */
t.test('terminalSafe escapes what a terminal acts on and keeps newlines, tabs and colours', async (t) => {
  t.equal(terminalSafe('a\u001b]52;c;aGk=\u0007b'), 'a\\u001b]52;c;aGk=\\u0007b', 'an OSC 52 clipboard write');
  t.equal(terminalSafe('x\u001b[2J\u001b[Hy'), 'x\\u001b[2J\\u001b[Hy', 'a screen clear and a cursor move');
  t.equal(terminalSafe('ok\rFAKE'), 'ok\\u000dFAKE', 'a carriage return');
  t.equal(terminalSafe('\u0000\u007f\u009b'), '\\u0000\\u007f\\u009b', 'NUL, DEL and the C1 CSI');
  t.equal(terminalSafe('line 1\n\tline 2'), 'line 1\n\tline 2', 'newlines and tabs stay');
  t.equal(terminalSafe('\u001b[31mred\u001b[39m'), '\u001b[31mred\u001b[39m', 'sagactl\'s own colours stay');
  t.equal(terminalSafe('naïve – ok ✓'), 'naïve – ok ✓', 'printable text beyond ASCII stays');
  t.equal(terminalSafe('a\u202eb\u2066c\u2069'), 'a\\u202eb\\u2066c\\u2069', 'bidi overrides and isolates, which reorder what follows');
});

t.test('shown: data may not colour either; SGR, bidi controls and every other control are escaped', async (t) => {
  t.equal(shown('ok \u001b[8mhidden\u001b[0m shown'), 'ok \\u001b[8mhidden\\u001b[0m shown', 'a conceal code in a NATS header');
  t.equal(shown('\u001b[31mred\u001b[39m'), '\\u001b[31mred\\u001b[39m', 'even the codes sagactl uses');
  t.equal(shown('key-\u202etxt.exe'), 'key-\\u202etxt.exe', 'a right-to-left override in a key');
  t.equal(shown('\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069'), '\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069');
  t.equal(shown('\u0000\u0007\r\u007f\u0085\u009b'), '\\u0000\\u0007\\u000d\\u007f\\u0085\\u009b', 'C0, DEL and C1');
  t.equal(shown('line 1\n\tline 2 – naïve ✓'), 'line 1\n\tline 2 – naïve ✓', 'newlines, tabs and printable text stay');
});

t.test('tables, fields and failures escape their data and still paint it', async (t) => {
  const style = makeStyle(true);
  const evil = 'a\u001b[8mb';
  t.equal(renderTable([{ header: 'K' }], [[evil], [{ text: evil, paint: style.red }]]), 'K\na\\u001b[8mb\n\u001b[31ma\\u001b[8mb\u001b[39m\n');
  t.equal(renderFields([['Key', evil], ['State', { text: 'failed', paint: style.state }]]), 'Key:   a\\u001b[8mb\nState: \u001b[31mfailed\u001b[39m\n');
  t.equal(renderFields([['Key', { text: `${evil}${'x'.repeat(40)}`, paint: style.bold }]], 24), `Key: \u001b[1ma\\u001b[8mb${'x'.repeat(7)}…\u001b[22m\n`, 'cut to the width, then painted');
  t.equal(formatFailure(new CliError('no instance a\u001b[8mb\u202e', 'try \u001b[2J')), 'sagactl: no instance a\\u001b[8mb\\u202e\nHint: Try \\u001b[2J\n');
});

t.test('every command\'s output goes through it', async (t) => {
  const file = join(t.testdir(), 'evil.yaml');
  writeFileSync(file, 'sagas:\n  - name: "x\u001b]52;c;aGk=\u0007\u001b[2Jy"\n    steps: []\n');
  let out = '';
  let err = '';
  const code = await runCli(['validate', file], { out: (s) => { out += s; }, err: (s) => { err += s; } });
  t.equal(code, 1, 'the file is refused');
  t.match(err, /\\u001b\]52;c;aGk=\\u0007\\u001b\[2J/, 'the name is quoted with its control characters escaped');
  t.notOk(out.includes('\u001b') || err.includes('\u001b') || err.includes('\u0007'), 'and no raw control character reaches the terminal');
});
