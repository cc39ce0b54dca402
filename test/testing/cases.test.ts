/** Cases files: read with positioned errors, run against their expectations. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { formatDefinitionError } from '../../engine/definitions/index.js';
import { loadCases, loadSagas, parseCases, runCase } from '../../engine/testing/index.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const sagas = loadSagas(join(fixtures, 'travel.yaml'));
const travel = sagas.travel;
if (travel === undefined) throw new Error('fixture travel.yaml has no saga travel');

t.test('the fixture cases load and pass', async (t) => {
  const file = join(fixtures, 'travel-cases.yaml');
  const r = loadCases(file, sagas);
  if (!r.ok) throw new Error(r.errors.map(formatDefinitionError).join('\n'));
  t.same(r.cases.map((c) => [c.name, c.saga, c.line]), [['the payment is declined', 'travel', 3], ['no insurance, cancelled while the seats are held', 'travel', 22]]);
  for (const c of r.cases) {
    const result = runCase(travel, c);
    t.same(result.mismatches, [], c.name);
    t.ok(result.ok, c.name);
  }
  const second = r.cases[1];
  if (second === undefined) throw new Error('no second case');
  t.same(second.script.do['hold-seats'], [{ kind: 'ok', delay: 5000, payload: { holdId: 'h-1' } }]);
});

t.test('a case whose expectation does not hold says where it differs', async (t) => {
  const r = parseCases([
    'cases:',
    '  - name: wrong',
    '    replies: { pay: fail }',
    '    expect: { outcome: completed, effects: [do hold-seats ok, do insure ok, do pay fail, undo hold-seats ok] }',
  ].join('\n'), 'c.yaml', sagas);
  if (!r.ok) throw new Error(r.errors.map(formatDefinitionError).join('\n'));
  const [c] = r.cases;
  if (c === undefined) throw new Error('no case');
  const result = runCase(travel, c);
  t.notOk(result.ok);
  t.same(result.mismatches, [
    'expected outcome completed, got compensated',
    'effect 4: expected `undo hold-seats ok`, got `undo insure ok`',
  ]);
});

t.test('a bad cases file reports every problem with its line, column and what to write', async (t) => {
  const r = parseCases([
    'cases:',                                   // 1
    '  - name: typos',                          // 2
    '    saga: travle',                         // 3
    '  - name: more',                           // 4
    '    replies:',                             // 5
    '      hold-seat: fail',                    // 6
    '      pay: sometimes',                     // 7
    '      ticket: fail',                       // 8
    '    undo: { pay: fail }',                  // 9
    '    cancel: 5 seconds',                    // 10
    '    expct: {}',                            // 11
    '    expect: { outcome: done }',            // 12
  ].join('\n'), 'bad.yaml', sagas);
  t.notOk(r.ok);
  if (r.ok) return;
  const lines = r.errors.map(formatDefinitionError);
  t.same(lines, [
    'bad.yaml:3:11: cases[0].saga: the definitions have no saga `travle`. Did you mean `travel`?',
    'bad.yaml:6:7: cases[1].replies.hold-seat: saga travel has no step `hold-seat`. Did you mean `hold-seats`?',
    'bad.yaml:7:12: cases[1].replies.pay: `sometimes` is not a reply. Write STEP=REPLY[,REPLY...] where REPLY is ok, fail, retryable, timeout or late, each with an optional :DELAY and *COUNT (like book-hotel=retryable*2,ok:3s), STEP.undo=REPLY for a compensation, or cancel=STEP / cancel=DURATION',
    'bad.yaml:8:15: cases[1].replies.ticket: `ticket` lists no failure reply, so it cannot answer fail. Its replies are Ticketed, PrinterJam; use timeout or retryable',
    'bad.yaml:9:18: cases[1].undo.pay: `pay` has no compensation. Script .undo only for steps with a compensate block',
    'bad.yaml:10:13: cases[1].cancel: `5 seconds` is not a duration. Write cancel: STEP (while STEP awaits its reply) or cancel: DURATION (like 2s, from the start)',
    'bad.yaml:11:5: cases[1].expct: unknown field `expct`. Did you mean `expect`?',
    'bad.yaml:12:24: cases[1].expect.outcome: `done` is not an outcome. Write one of completed, compensated, failed, running, compensating, rejected',
  ]);
});

t.test('a file without cases, or not YAML, or unreadable, is an error at line 1 or where it breaks', async (t) => {
  const none = parseCases('sagas: []\n', 'x.yaml', sagas);
  t.notOk(none.ok);
  if (!none.ok) t.match(formatDefinitionError(none.errors[0] ?? { file: '', line: 0, column: 0, path: '', message: '', hint: '' }), /^x\.yaml:1:1: the file has no `cases:` list/);
  const broken = parseCases('cases:\n  - name: [oops\n', 'y.yaml', sagas);
  t.notOk(broken.ok);
  if (!broken.ok) t.match(broken.errors[0]?.message, /YAML syntax error/);
  const dir = t.testdir();
  const missing = loadCases(join(dir, 'nope.yaml'), sagas);
  t.notOk(missing.ok);
  writeFileSync(join(dir, 'ok.yaml'), 'cases: []\n');
  t.same(loadCases(join(dir, 'ok.yaml'), sagas), { ok: true, cases: [] });
});
