/** The scenario generator, the sample data, the script language and the effect lines. */
import { join } from 'node:path';
import t from 'tap';
import { loadDefinitionsText } from '../../engine/definitions/index.js';
import {
  effectMatches, generateScenarios, loadSagas, parseScript, sagaSamples, sampleFromSchema, ScriptError, simulate, testSaga,
} from '../../engine/testing/index.js';
import { sampleFromPattern } from '../../engine/testing/schema-sample.js';

const travel = loadSagas(join(import.meta.dirname, 'fixtures/travel.yaml')).travel;
if (travel === undefined) throw new Error('fixture travel.yaml has no saga travel');

t.test('the generated scenarios cover every kind the issue lists, for each step', async (t) => {
  const { scenarios, notes } = generateScenarios(travel, sagaSamples(travel));
  t.same(notes, []);
  t.same(scenarios.map((s) => s.name), [
    'all succeed',
    'hold-seats fails',
    'hold-seats times out on all 2 attempts',
    'hold-seats answers retryable until its 2 attempts run out',
    'hold-seats succeeds late, after it was given up',
    'insure fails',
    'insure times out on all 2 attempts',
    'insure succeeds late, after it was given up',
    // The pivot and the step after it retry until they succeed.
    'pay fails',
    'pay times out 3 times, then succeeds',
    'ticket times out 3 times, then succeeds',
    'ticket answers retryable 3 times, then succeeds',
    'the compensation of hold-seats fails until its 3 attempts run out (insure fails)',
    'the compensation of insure fails 3 times, then succeeds (pay fails)',
    'cancel while hold-seats awaits its reply',
    'cancel while insure awaits its reply',
    'cancel while the pivot pay awaits its reply (refused)',
    'when of insure is true',
    'when of insure is false ($input.insured = false)',
  ]);
});

t.test('every generated scenario of the travel saga ends as its name says', async (t) => {
  const report = testSaga(travel);
  t.ok(report.ok);
  const outcome = Object.fromEntries(report.scenarios.map((s) => [s.name, s.outcome]));
  t.equal(outcome['all succeed'], 'completed');
  t.equal(outcome['hold-seats fails'], 'compensated');
  t.equal(outcome['the compensation of hold-seats fails until its 3 attempts run out (insure fails)'], 'failed');
  t.equal(outcome['cancel while the pivot pay awaits its reply (refused)'], 'completed');
  const byName = Object.fromEntries(report.scenarios.map((s) => [s.name, s]));
  t.same(byName['insure times out on all 2 attempts']?.effects, ['do hold-seats ok', 'do insure timeout', 'do insure#2 timeout', 'undo insure ok', 'undo hold-seats ok']);
  t.same(byName['when of insure is false ($input.insured = false)']?.effects, ['do hold-seats ok', 'skip insure', 'do pay ok', 'do ticket ok']);
  t.same(byName['cancel while hold-seats awaits its reply']?.effects, ['do hold-seats ok ignored', 'cancel', 'undo hold-seats ok']);
});

t.test('a step behind a false `when` is exercised with the input that turns it on', async (t) => {
  const r = loadDefinitionsText([
    'sagas:',
    '  - name: gated',
    '    defaults: { timeout: 1s }',
    '    steps:',
    '      - name: a',
    '        when: "{% $input.count > 5 %}"',
    '        command: { subject: x.c, type: A, payload: { count: "{% $input.count %}" } }',
    '        reply: { subject: x.e, success: [AOk], failure: [ANo] }',
    '        compensate: { command: { subject: x.c, type: UndoA }, reply: { subject: x.e, success: [AUndone] } }',
    '      - name: p',
    '        pivot: true',
    '        command: { subject: x.c, type: P }',
    '        reply: { subject: x.e, success: [POk] }',
  ].join('\n'), 'gated.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const [saga] = r.sagas;
  if (saga === undefined) throw new Error('no saga');
  const report = testSaga(saga);
  const fails = report.scenarios.find((s) => s.name === 'a fails');
  t.equal(fails?.outcome, 'compensated', 'a ran and failed rather than being skipped');
  t.same(report.input, { count: 1 }, 'a number, since the condition compares it');
  t.same(fails?.input, { count: 6 });
  t.ok(report.scenarios.some((s) => s.name === 'when of a is true ($input.count = 6)'));
  t.equal(report.scenarios.find((s) => s.name === 'all succeed')?.effects[0], 'skip a');
});

t.test('a sample field compared with a literal takes that literal, so the `when` holds', async (t) => {
  const r = loadDefinitionsText([
    'sagas:',
    '  - name: plans',
    '    defaults: { timeout: 1s }',
    '    steps:',
    '      - name: a',
    '        when: "{% $input.plan = \'gold\' %}"',
    '        command: { subject: x.c, type: A, payload: { plan: "{% $input.plan %}" } }',
    '        reply: { subject: x.e, success: [AOk] }',
    '        pivot: true',
  ].join('\n'), 'plans.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const [saga] = r.sagas;
  if (saga === undefined) throw new Error('no saga');
  const report = testSaga(saga);
  t.same(report.input, { plan: 'gold' });
  t.same(report.scenarios.filter((s) => s.kind === 'when').map((s) => [s.name, s.effects]), [
    ['when of a is true', ['do a ok']],
    ['when of a is false ($input.plan = false)', ['skip a']],
  ]);
});

t.test('sample input: from the trigger schema, patterns and formats honoured', async (t) => {
  const s = sagaSamples(travel);
  t.equal(s.inputOrigin, 'schema');
  t.same(s.input, { insured: true, seats: 1, tripId: 'T-0000' });
  t.same(s.success['hold-seats'], { holdId: '00000000-0000-4000-8000-000000000000' }, 'a reply schema gives the reply payload');
  t.same(s.success.insure, { policy: 'policy-1' }, 'without a schema, the fields later expressions read');
  t.equal(sampleFromPattern('^[A-Z]{3}-\\d{2}$'), 'AAA-00');
  t.equal(sampleFromPattern('^(a|b)$'), null, 'alternation is beyond it');
  t.same(sampleFromSchema({ type: 'object', required: ['n'], properties: { n: { type: 'integer', exclusiveMinimum: 5 }, e: { enum: ['x', 'y'] } } }), { n: 6, e: 'x' });
  t.same(sampleFromSchema({ type: 'array', minItems: 2, items: { $ref: '#/definitions/i' }, definitions: { i: { const: 7 } } }), [7, 7]);
});

t.test('an input missing a field the payload needs is an outcome with a note, not a crash', async (t) => {
  const report = testSaga(travel, { input: { seats: 1 } });
  t.equal(report.inputOrigin, 'given');
  const happy = report.scenarios[0];
  t.equal(happy?.outcome, 'rejected');
  t.match(happy?.notes.join('\n'), /the start is refused: start\.key .* gave no value/);
  t.match(report.notes[0], /the happy path ends rejected, not completed/);
  t.ok(report.ok, 'no guarantee is broken by a refused start');
});

t.test('the script language: replies per attempt, counts, delays, undo and cancel', async (t) => {
  const s = parseScript(['hold-seats=retryable*2,ok:3s, insure.undo=fail', 'cancel=pay']);
  t.same(s.do['hold-seats'], [{ kind: 'retryable', delay: null }, { kind: 'retryable', delay: null }, { kind: 'ok', delay: 3000 }]);
  t.same(s.undo.insure, [{ kind: 'fail', delay: null }]);
  t.same(s.cancel, { step: 'pay' });
  t.same(parseScript(['cancel=2s']).cancel, { at: 2000 });
  t.throws(() => parseScript(['ok']), ScriptError);
  t.throws(() => parseScript(['a=maybe']), /`maybe` is not a reply/);
  t.throws(() => simulate(travel, { script: 'ticket=fail' }), /ticket` lists no failure reply/);
  t.throws(() => simulate(travel, { script: 'hotel=fail' }), /has no step `hotel`/);
  t.throws(() => simulate(travel, { script: 'pay.undo=fail' }), /`pay` has no compensation/);
});

t.test('simulate: delays move the simulated clock, a step that never succeeds is reported', async (t) => {
  const r = simulate(travel, { script: 'hold-seats=retryable,ok:3s' });
  t.equal(r.outcome, 'completed');
  const succeeded = r.journal.find((e) => e.type === 'StepSucceeded' && e.step === 'hold-seats');
  // attempt 1 at 0, retryable at 100ms, retry after 1s (no jitter), success 3s later.
  t.equal(succeeded?.at, 4100);
  const endless = simulate(travel, { script: 'ticket=timeout', maxInputs: 200 });
  t.equal(endless.outcome, 'running');
  t.match(endless.notes.join('\n'), /did not end after 200 inputs/);
  const skipped = simulate(travel, { input: { tripId: 'T-0001', seats: 1 }, script: 'cancel=insure' });
  t.equal(skipped.outcome, 'completed');
  t.same(skipped.notes, ['no cancel was requested: insure never started']);
});

t.test('effect lines match loosely: attempt and result only where written', async (t) => {
  t.ok(effectMatches('do pay', 'do pay#2 timeout'));
  t.ok(effectMatches('do pay fail', 'do pay fail'));
  t.ok(effectMatches('do pay#1 fail', 'do pay fail'));
  t.notOk(effectMatches('do pay#2', 'do pay fail'));
  t.notOk(effectMatches('undo pay', 'do pay ok'));
  t.notOk(effectMatches('do pay ok', 'do pay fail'));
  t.ok(effectMatches('cancel', 'cancel'));
});
