/** `sagactl validate`, `test` and `simulate` on the `delay` and `saga` step kinds (sagas/delayed-reminder.yaml, sagas/trip-with-child.yaml). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cli } from './helpers.js';

const root = join(import.meta.dirname, '../..');
const reminder = join(root, 'sagas/delayed-reminder.yaml');
const trip = join(root, 'sagas/trip-with-child.yaml');

t.test('the examples validate and pass every generated scenario', async (t) => {
  for (const file of [reminder, trip]) {
    const v = await cli(['validate', file]);
    t.equal(v.code, 0, `${file}: ${v.err}`);
    t.match(v.out, file === reminder ? /ok delayed-reminder \(5 steps, delay, pivot ship-order;/ : /ok trip-with-child \(3 steps, child book-stay, pivot issue-tickets;/);
    const r = await cli(['test', file]);
    t.equal(r.code, 0, `${file}: ${r.err}`);
    t.match(r.out, /^PASS \d sagas?, \d+ scenarios, no violation$/m, file);
    t.notMatch(r.out, /FAIL|violation \(/, file);
  }
});

t.test('sagactl test: a cancel during a delay, a child failing, a child timing out, a completed child compensated', async (t) => {
  const r = await cli(['test', reminder]);
  t.match(r.out, /"shipAt":"1970-01-01T01:00:00\.000Z"/, 'a delay\'s until gets a time as its sample');
  t.match(r.out, /ok {4}all succeed +completed\n +do reserve-inventory ok · delay cooling-off ends · do charge-payment ok · do ship-order ok\n/);
  t.match(r.out, /ok {4}cancel during the delay cooling-off +compensated\n +do reserve-inventory ok · cancel · undo reserve-inventory ok\n/);
  const c = await cli(['test', trip]);
  t.match(c.out, /ok {4}book-stay: the child saga book-stay fails and is compensated +compensated\n +do take-deposit ok · do book-stay compensated · undo take-deposit ok\n/);
  t.match(c.out, /ok {4}book-stay: the child saga book-stay does not end in time and is cancelled +compensated\n +do take-deposit ok · do book-stay timeout · saga book-stay timeout · undo book-stay compensated · undo take-deposit ok\n/);
  t.match(c.out, /ok {4}issue-tickets fails +compensated\n +do take-deposit ok · do book-stay completed · do issue-tickets fail · undo book-stay compensated · undo take-deposit ok\n/);
  t.match(c.out, /ok {4}cancel while book-stay awaits its child saga book-stay +compensated/);
});

t.test('sagactl simulate shows a delay and a child with simulated times', async (t) => {
  const d = await cli(['simulate', reminder, '--script', 'charge-payment=fail']);
  t.equal(d.code, 0, d.err);
  t.match(d.out, /\+100ms +DelayStarted +cooling-off waits until \+2d00h\n/);
  t.match(d.out, /\+2d00h +StepSucceeded +cooling-off\n/);
  t.match(d.out, /\+2d00h +StepSucceeded +ship-day\n/, 'a ship day already past goes on at once');
  const c = await cli(['simulate', trip, '--saga', 'trip-with-child', '--script', 'issue-tickets=fail', '--script', 'book-stay=ok:5s']);
  t.equal(c.code, 0, c.err);
  t.match(c.out, /\+100ms +ChildStarted +book-stay started child test-1\.book-stay\.1 \(saga book-stay\), times out at \+10m00s\n/);
  t.match(c.out, /\+5\.10s +StepSucceeded +book-stay\n/);
  t.match(c.out, /ChildCompensationRequested +book-stay: child test-1\.book-stay\.1 asked to compensate\n/);
  t.match(c.out, /do take-deposit ok · do book-stay completed · do issue-tickets fail · undo book-stay compensated · undo take-deposit ok\n/);
  t.match(c.out, /The saga guarantee held\.\n$/);
});

t.test('validate refuses a child with a pivot before the parent\'s pivot, an unknown child, and a cycle', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'bad.yaml');
  const cmd = (name: string, extra = '') => `      - name: ${name}\n        command: { subject: a.commands, type: Do${name}, payload: {} }\n        reply: { subject: a.events, success: [Done${name}] }\n${extra}`;
  const undo = (name: string) => `        compensate:\n          command: { subject: a.commands, type: Undo${name}, payload: {} }\n          reply: { subject: a.events, success: [Undone${name}] }\n`;
  writeFileSync(file, [
    'sagas:',
    '  - name: parent', '    defaults: { timeout: 5s }', '    steps:',
    '      - name: child-step', '        saga: pivoted',
    '      - name: ghost', '        saga: nowhere',
    '  - name: pivoted', '    defaults: { timeout: 5s }', '    steps:', cmd('a', undo('a')), cmd('b', '        pivot: true\n'),
    '  - name: loop-a', '    steps:', '      - name: go', '        saga: loop-b',
    '  - name: loop-b', '    steps:', '      - name: back', '        saga: loop-a',
    '',
  ].join('\n'));
  const r = await cli(['validate', file]);
  t.equal(r.code, 1, 'refused');
  t.match(r.err, /step `child-step` may have to be compensated, but its child `pivoted` has the pivot `b` and cannot be undone past it/);
  t.match(r.err, /step `ghost` starts saga `nowhere`, which is not defined/);
  t.match(r.err, /step `go` starts saga `loop-b`, which starts `loop-a` again/);
  t.match(r.err, /bad\.yaml:6:/, 'each with its line');
});
