import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../../cli/program.js';

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

const saga = (payload: string, key = '"{% $input.id %}"') => [
  'sagas:',
  '  - name: risky',
  `    start: { key: ${key} }`,
  '    defaults: { timeout: 5s }',
  '    steps:',
  '      - name: a',
  `        command: { subject: x.c, type: A, payload: { v: ${payload} } }`,
  '        reply: { subject: x.e, success: [AOk] }',
  '        pivot: true',
  '',
].join('\n');

t.test('a function that calls itself is valid but warned about, with where it is', async (t) => {
  const file = join(t.testdir(), 'rec.yaml');
  writeFileSync(file, saga('"{% ($f := function($i) { $i < $input.limit ? $f($i + 1) : $i }; $f(0)) %}"'));
  const r = await cli(['validate', file]);
  t.equal(r.code, 0, 'still valid');
  t.match(r.out, `${file}: ok risky`);
  t.match(r.err, `${file}: warning: risky: steps.a.command.payload.v: {% ($f := function($i)`);
  t.match(r.err, /\$f calls itself: recursion that does not end on some input .* runs until it is stopped after 50 ms \(SAGA_EXPR_TIMEOUT\)/);
  t.equal(r.err.trim().split('\n').length, 1, 'one warning');
});

t.test('a range bounded by data is warned about; one of literals is not', async (t) => {
  const dir = t.testdir();
  const data = join(dir, 'range.yaml');
  writeFileSync(data, saga('"{% $sum([1..$input.n]) %}"', '"{% $string($count([1..$input.n])) %}"'));
  const r = await cli(['validate', data]);
  t.equal(r.code, 0);
  t.match(r.err, 'warning: risky: start.key: ');
  t.match(r.err, 'warning: risky: steps.a.command.payload.v: {% $sum([1..$input.n]) %}: the range [..] takes a bound from data');
  const literal = join(dir, 'literal.yaml');
  writeFileSync(literal, saga('"{% $sum([-2..10]) %}"'));
  const quiet = await cli(['validate', literal]);
  t.equal(quiet.code, 0);
  t.equal(quiet.err, '', 'no warning for [-2..10]');
});

t.test('a function that does not call itself is not warned about', async (t) => {
  const file = join(t.testdir(), 'plain.yaml');
  writeFileSync(file, saga('"{% ($double := function($x) { $x * 2 }; $double($input.n)) %}"'));
  const r = await cli(['validate', file]);
  t.equal(r.code, 0);
  t.equal(r.err, '');
});

t.test('a stopped match does not take its event, a stopped key refuses the start: the warning says which', async (t) => {
  const file = join(t.testdir(), 'match.yaml');
  writeFileSync(file, [
    'sagas:',
    '  - name: risky',
    '    start: { key: "{% $string($count([1..$input.n])) %}" }',
    '    steps:',
    '      - name: w',
    '        wait: { subject: x.e, type: Ranged, match: "{% $count([1..payload.n]) > 0 %}" }',
    '      - name: a',
    '        command: { subject: x.c, type: A, payload: {} }',
    '        reply: { subject: x.r, success: [AOk] }',
    '        pivot: true',
    '        timeout: 5s',
    '',
  ].join('\n'));
  const r = await cli(['validate', file]);
  t.equal(r.code, 0);
  t.match(r.err, 'warning: risky: steps.w.match: {% $count([1..payload.n]) > 0 %}: the range [..] takes a bound from data: a large value builds a large array; ranges over 100000 items are refused and the event is not taken (the wait goes on)');
  t.match(r.err, 'warning: risky: start.key: {% $string($count([1..$input.n])) %}: the range [..] takes a bound from data: a large value builds a large array; ranges over 100000 items are refused and the start is refused');
});
