/**
 * `sagactl test` and the testing library with forEach steps: each element is a step of its
 * own in the scenarios, the scripts and the guarantee checker; the checker catches an
 * element left uncompensated, compensated out of order, or missing from a completed stage.
 */
import { join } from 'node:path';
import t from 'tap';
import type { CompiledSaga } from '../../engine/core/index.js';
import {
  checkGuarantee, generateScenarios, loadSagas, parseScript, runScenario, sagaSamples, ScriptError, simulate, testSaga, type TraceEntry,
} from '../../engine/testing/index.js';
import { cli } from '../cli/helpers.js';

const root = join(import.meta.dirname, '../..');
const file = join(root, 'sagas/bulk-shipment.yaml');
const bulk = loadSagas(file)['bulk-shipment'] as CompiledSaga;
const three = { orderId: 'o-1', customerId: 'c-1', total: 30, lines: [{ sku: 'a' }, { sku: 'b' }, { sku: 'c' }] };
const undos = (trace: readonly TraceEntry[]): string[] => trace.flatMap((e) => (e.kind === 'send' && e.undo ? [e.step] : []));

t.test('the sample input gives the iterated path an array, its elements the fields $item reads', async (t) => {
  const samples = sagaSamples(bulk);
  t.same((samples.input as { lines: unknown }).lines, [{ sku: 'sku-1' }, { sku: 'sku-2' }]);
  t.match(samples.success['reserve-lines'], { reservationId: String }, 'the element reply carries what its compensation and the pivot read');
});

t.test('scenarios target each element; every one keeps the guarantee', async (t) => {
  const report = testSaga(bulk);
  t.ok(report.ok, 'the guarantee held in every scenario');
  t.same(report.notes, []);
  const names = report.scenarios.map((s) => s.name);
  for (const i of [0, 1]) {
    for (const name of [`reserve-lines[${i}] fails`, `reserve-lines[${i}] times out on all 3 attempts`, `reserve-lines[${i}] succeeds late, after it was given up`,
      `reserve-lines[${i}] fails while the other elements are in flight`, `cancel while reserve-lines[${i}] awaits its reply`]) {
      t.ok(names.includes(name), name);
    }
  }
  t.ok(names.some((n) => n.startsWith('the compensation of reserve-lines[0] fails until its 10 attempts run out')), 'a failing element compensation');
  const happy = report.scenarios[0];
  t.equal(happy?.outcome, 'completed');
  t.same(happy?.effects, ['do reserve-lines[0] ok', 'do reserve-lines[1] ok', 'do charge-payment ok', 'do ship-order ok']);
  const fails = report.scenarios.find((s) => s.name === 'charge-payment fails');
  t.same(undos(fails?.trace ?? []), ['reserve-lines[1]', 'reserve-lines[0]'], 'the elements are undone latest first');
});

t.test('a saga whose sample iterates nothing says so, and scripts the step as a whole', async (t) => {
  const report = testSaga(bulk, { input: { ...three, lines: [] } });
  t.match(report.notes, [/forEach step reserve-lines iterates no element on the given input/]);
  t.ok(report.scenarios.some((s) => s.name === 'reserve-lines fails'));
  t.ok(report.ok);
});

t.test('scripts name one element, or every element by the step name', async (t) => {
  t.same(parseScript(['reserve-lines[2]=fail,reserve-lines[0].undo=timeout']).do, { 'reserve-lines[2]': [{ kind: 'fail', delay: null }] });
  t.throws(() => parseScript(['reserve-lines[x]=fail']), ScriptError);
  const one = simulate(bulk, { input: three, script: 'reserve-lines[2]=fail' });
  t.equal(one.outcome, 'compensated');
  t.same(one.effects.filter((e) => e.startsWith('do ')), ['do reserve-lines[0] ok', 'do reserve-lines[1] ok', 'do reserve-lines[2] fail']);
  t.same(undos(one.trace), ['reserve-lines[1]', 'reserve-lines[0]']);
  const all = simulate(bulk, { input: three, script: 'reserve-lines=timeout' });
  t.equal(all.outcome, 'compensated');
  t.same(undos(all.trace).sort(), ['reserve-lines[0]', 'reserve-lines[1]', 'reserve-lines[2]'], 'every element timed out: each may have taken effect');
  t.ok(all.ok);
});

t.test('too many lines: the stage fails before anything is sent, with the reason in the notes', async (t) => {
  const r = simulate(bulk, { input: { ...three, lines: Array.from({ length: 201 }, (_, i) => ({ sku: `s${i}` })) } });
  t.equal(r.outcome, 'compensated');
  t.same(r.effects, []);
  t.match(r.notes, [/reserve-lines could not be sent: forEach items \$input\.lines gave 201 elements, more than maxItems 200/]);
});

t.test('the checker catches elements wronged', async (t) => {
  const run = simulate(bulk, { input: three, script: 'charge-payment=fail' });
  t.same(undos(run.trace), ['reserve-lines[2]', 'reserve-lines[1]', 'reserve-lines[0]']);
  t.same(checkGuarantee(bulk, run.trace).violations, []);
  // An element left out of the compensation.
  const skipped = run.trace.filter((e) => !((e.kind === 'send' || e.kind === 'reply') && e.step === 'reserve-lines[1]' && e.undo));
  t.ok(checkGuarantee(bulk, skipped).violations.some((v) => v.rule === 'not-compensated' && /reserve-lines\[1\]/.test(v.message)), 'not compensated');
  // Two element compensations swapped.
  const i = run.trace.findIndex((e) => e.kind === 'send' && e.undo && e.step === 'reserve-lines[2]');
  const j = run.trace.findIndex((e) => e.kind === 'send' && e.undo && e.step === 'reserve-lines[1]');
  const swapped = [...run.trace];
  [swapped[i], swapped[j]] = [swapped[j] as TraceEntry, swapped[i] as TraceEntry];
  t.ok(checkGuarantee(bulk, swapped).violations.some((v) => v.rule === 'reverse-order'), 'out of order');
  // A completed run missing an element's success.
  const ok = simulate(bulk, { input: three });
  const missing = ok.trace.filter((e) => !(e.kind === 'reply' && e.step === 'reserve-lines[1]'));
  t.ok(checkGuarantee(bulk, missing).violations.some((v) => v.rule === 'completed-inconsistent' && /reserve-lines\[1\] never succeeded/.test(v.message)), 'incomplete');
});

t.test('scenario generation and runs are the library the CLI uses', async (t) => {
  const samples = sagaSamples(bulk);
  const { scenarios } = generateScenarios(bulk, samples);
  const late = scenarios.find((s) => s.name === 'reserve-lines[1] succeeds late, after it was given up');
  if (late === undefined) throw new Error('no late scenario');
  const r = runScenario(bulk, late, {}, samples);
  t.equal(r.outcome, 'compensated');
  t.ok(r.ok);
});

t.test('sagactl validate and test pass on sagas/bulk-shipment.yaml', async (t) => {
  const v = await cli(['validate', file]);
  t.equal(v.code, 0, v.err);
  t.match(v.out, /ok bulk-shipment \(3 steps, pivot ship-order/);
  const r = await cli(['test', file]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^PASS 1 saga, \d+ scenarios, no violation$/m);
  t.match(r.out, /ok {4}reserve-lines\[1\] fails +compensated\n +do reserve-lines\[0\] ok · do reserve-lines\[1\] fail · undo reserve-lines\[0\] ok\n/);
  const s = await cli(['simulate', file, '--saga', 'bulk-shipment', '--script', 'reserve-lines[1]=fail']);
  t.equal(s.code, 0, s.err);
  t.match(s.out, /ForEachStarted +reserve-lines runs once per element: 2 elements, reserve-lines\[0\] to reserve-lines\[1\]/);
  t.match(s.out, /StepFailed +reserve-lines\[1\] failed: reply OutOfStock/);
});
