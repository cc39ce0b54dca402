import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { terminalSafe } from '../../cli/io.js';
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
