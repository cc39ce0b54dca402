/** `sagactl test`: exit codes, what it prints, the shipped examples, cases files, machine output. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cli } from './helpers.js';

const root = join(import.meta.dirname, '../..');
const fixtures = join(root, 'test/testing/fixtures');
const travel = join(fixtures, 'travel.yaml');

t.test('every shipped example passes and lists each scenario', async (t) => {
  for (const file of ['saga-definitions.yaml', 'sagas/order-fulfillment.yaml', 'sagas/trip-booking.yaml']) {
    const r = await cli(['test', join(root, file)]);
    t.equal(r.code, 0, `${file}: ${r.err}`);
    t.equal(r.err, '');
    t.match(r.out, /^PASS 1 saga, \d+ scenarios, no violation$/m, file);
    t.notMatch(r.out, /FAIL|violation \(/, file);
  }
  const order = await cli(['test', join(root, 'saga-definitions.yaml')]);
  t.match(order.out, /order-fulfillment: 16 scenarios with a sample input from the trigger schema/);
  t.match(order.out, /ok {4}charge-payment fails +compensated\n +do reserve-inventory ok · do charge-payment fail · undo reserve-inventory ok\n/);
  t.match(order.out, /ok {4}cancel while the pivot ship-order awaits its reply \(refused\) +completed/);
  t.match(order.out, /order-fulfillment: the saga guarantee held in all 16 scenarios/);
  const trip = await cli(['test', join(root, 'sagas/trip-booking.yaml')]);
  t.match(trip.out, /branch 2 of book-travel \(book-hotel\) fails while the others are in flight +compensated/);
  t.match(trip.out, /when of rent-car is false \(\$input\.needsCar = false\) +completed/);
});

t.test('a file of 20 sagas with 10 steps each passes', async (t) => {
  const r = await cli(['test', join(fixtures, 'twenty-by-ten.yaml'), '-o', 'json']);
  t.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out) as { ok: boolean; sagas: { saga: string; ok: boolean; scenarios: unknown[] }[] };
  t.equal(doc.ok, true);
  t.equal(doc.sagas.length, 20);
  t.ok(doc.sagas.every((s) => s.ok && s.scenarios.length > 40), 'each saga passes through more than 40 scenarios');
});

t.test('--saga picks one saga; an unknown one is a usage error naming the others', async (t) => {
  const one = await cli(['test', join(fixtures, 'twenty-by-ten.yaml'), '--saga', 'bulk-07']);
  t.equal(one.code, 0, one.err);
  t.match(one.out, /^PASS 1 saga, /m);
  t.match(one.out, /^bulk-07: /m);
  const unknown = await cli(['test', travel, '--saga', 'trvel']);
  t.equal(unknown.code, 2);
  t.match(unknown.err, /has no saga trvel\nHint: Its sagas are travel/);
});

t.test('--input replaces the sample; bad JSON is a usage error', async (t) => {
  const r = await cli(['test', travel, '--input', '{"tripId":"T-0001","seats":3}']);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /travel: \d+ scenarios with the given input:\n {2}\{"tripId":"T-0001","seats":3\}/);
  t.match(r.out, /when of insure is false +completed/, 'insured absent: the when is false');
  const bad = await cli(['test', travel, '--input', '{oops']);
  t.equal(bad.code, 2);
  t.match(bad.err, /the --input value is not JSON/);
});

t.test('an input the saga cannot start with is reported as an outcome, not a crash', async (t) => {
  const r = await cli(['test', travel, '--input', '{"seats":1}']);
  t.equal(r.code, 0, 'no guarantee broken');
  t.match(r.out, /all succeed +rejected\n.*\n +note: the start is refused: start\.key/);
  t.match(r.out, /note: with the given input the happy path ends rejected, not completed/);
});

t.test('an invalid definitions file prints its errors and exits 1', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'sagas:\n  - name: bad\n    steps: []\n    timeout: soon\n');
  const r = await cli(['test', file]);
  t.equal(r.code, 1);
  t.match(r.err, `${file}:4:14: sagas[0].timeout:`);
  t.match(r.err, /is not valid; fix it first/);
  t.equal(r.out, '');
});

t.test('--cases: passing cases exit 0, a failing case exits 1 with what differed', async (t) => {
  const ok = await cli(['test', travel, '--cases', join(fixtures, 'travel-cases.yaml')]);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /ok {4}the payment is declined \(.*travel-cases\.yaml:3\) +compensated/);
  t.match(ok.out, /PASS 1 saga, \d+ scenarios, no violation, 2 of 2 cases passed/);
  const dir = t.testdir();
  const cases = join(dir, 'cases.yaml');
  writeFileSync(cases, 'cases:\n  - name: hopeful\n    replies: { pay: fail }\n    expect: { outcome: completed }\n');
  const failing = await cli(['test', travel, '--cases', cases]);
  t.equal(failing.code, 1);
  t.match(failing.out, /FAIL {2}hopeful \(.*cases\.yaml:2\) +compensated\n.*\n +expected: expected outcome completed, got compensated/);
  t.match(failing.out, /FAIL 1 saga, \d+ scenarios, no violation, 0 of 1 cases passed/);
});

t.test('a bad cases file prints positioned errors and runs nothing', async (t) => {
  const dir = t.testdir();
  const cases = join(dir, 'cases.yaml');
  writeFileSync(cases, 'cases:\n  - name: x\n    replies: { hold-seat: fail }\n');
  const r = await cli(['test', travel, '--cases', cases]);
  t.equal(r.code, 1);
  t.match(r.err, `${cases}:3:16: cases[0].replies.hold-seat: saga travel has no step \`hold-seat\`. Did you mean \`hold-seats\`?`);
  t.match(r.err, /1 problem; no case ran/);
  t.equal(r.out, '');
});

t.test('-o jsonl prints one document per scenario', async (t) => {
  const r = await cli(['test', travel, '-o', 'jsonl']);
  t.equal(r.code, 0, r.err);
  const docs = r.out.trim().split('\n').map((l) => JSON.parse(l) as { saga: string; name: string; outcome: string; effects: string[]; ok: boolean; violations: unknown[] });
  t.equal(docs.length, 19);
  t.same(docs[0], { saga: 'travel', name: 'all succeed', kind: 'happy', ok: true, outcome: 'completed', effects: ['do hold-seats ok', 'do insure ok', 'do pay ok', 'do ticket ok'], notes: [], violations: [], warnings: [] });
});

t.test('help explains the scenarios, the guarantee and the cases file', async (t) => {
  const r = await cli(['test', '--help']);
  t.equal(r.code, 0);
  t.match(r.out, /Examples:/);
  t.match(r.out, /every step that may have taken effect is\s+compensated, once, in reverse order of completion/);
  t.match(r.out, /A cases file:/);
  const top = await cli(['--help']);
  t.match(top.out, /test \[options\] <file>/);
  t.match(top.out, /simulate \[options\] <file>/);
  const missing = await cli(['test']);
  t.equal(missing.code, 2);
});

t.test('shell completion knows test and simulate, and completes --cases with file names', async (t) => {
  const r = await cli(['completion', 'bash']);
  t.equal(r.code, 0);
  t.match(r.out, /" test"\) words="[^"]*--saga[^"]*--cases[^"]*"; files=1;;/);
  t.match(r.out, /" simulate"\) words="[^"]*--script[^"]*"; files=1;;/);
  t.match(r.out, /--db\|--file\|-f\|--cases\) COMPREPLY=\(\$\(compgen -f/);
});

t.test('the cases file in --help passes as written', async (t) => {
  const help = (await cli(['test', '--help'])).out;
  const example = /A cases file:\n([\s\S]*?)\n {2}\(replies/.exec(help)?.[1];
  if (example === undefined) throw new Error('no cases example in the help');
  const dir = t.testdir();
  const file = join(dir, 'help-cases.yaml');
  writeFileSync(file, example.replace(/^ {2}/gm, ''));
  const r = await cli(['test', join(root, 'saga-definitions.yaml'), '--cases', file]);
  t.equal(r.code, 0, r.out + r.err);
  t.match(r.out, /1 of 1 cases passed/);
});
