/**
 * `sagactl test` and the testing library with a forEach group (sagas/pick-and-pack.yaml):
 * each element's step is a step of its own in the scenarios, the scripts and the guarantee
 * checker; a step's `when` is turned per element; the checker catches an element's step left
 * uncompensated, compensated out of order, or missing from a completed stage.
 */
import { join } from 'node:path';
import t from 'tap';
import type { CompiledSaga } from '../../engine/core/index.js';
import { checkGuarantee, loadSagas, parseCases, parseScript, runCase, sagaSamples, simulate, testSaga, type TraceEntry } from '../../engine/testing/index.js';
import { cli } from '../cli/helpers.js';

const root = join(import.meta.dirname, '../..');
const file = join(root, 'sagas/pick-and-pack.yaml');
const saga = loadSagas(file)['pick-and-pack'] as CompiledSaga;
const three = { orderId: 'o-1', lines: [{ sku: 'a', quantity: 1 }, { sku: 'b', quantity: 2 }, { sku: 'c', quantity: 3 }] };
const undos = (trace: readonly TraceEntry[]): string[] => trace.flatMap((e) => (e.kind === 'send' && e.undo ? [e.step] : []));
const dos = (effects: readonly string[]): string[] => effects.filter((e) => e.startsWith('do '));

t.test('the sample input gives the group elements with every field its steps read, numbers where compared', async (t) => {
  const samples = sagaSamples(saga);
  t.same((samples.input as { lines: unknown }).lines, [{ sku: 'sku-1', quantity: 1 }, { sku: 'sku-2', quantity: 1 }]);
  t.match(samples.success['pick-lines.reserve'], { reservationId: String }, 'read as $steps.reserve inside the group');
  t.match(samples.success['pick-lines.pick'], { pickId: String }, 'read as $steps.`pick-lines`.pick after it');
});

t.test("scenarios target each element's steps; every one keeps the guarantee", async (t) => {
  const report = testSaga(saga);
  t.ok(report.ok, 'the guarantee held in every scenario');
  const names = report.scenarios.map((s) => s.name);
  for (const i of [0, 1]) {
    for (const step of ['reserve', 'pick']) {
      for (const name of [`pick-lines[${i}].${step} fails`, `pick-lines[${i}].${step} times out on all 3 attempts`, `pick-lines[${i}].${step} succeeds late, after it was given up`,
        `cancel while pick-lines[${i}].${step} awaits its reply`]) t.ok(names.includes(name), name);
    }
    t.ok(names.includes(`pick-lines[${i}].reserve fails while the other elements are in flight`));
  }
  t.ok(names.some((n) => n.startsWith('the compensation of pick-lines[0].reserve fails until its 10 attempts run out')), 'a failing compensation');
  t.ok(names.includes('when of pick-lines[0].pick is true'));
  t.ok(names.includes('when of pick-lines[0].pick is false (without $input.lines[0].quantity)'));
  const happy = report.scenarios[0];
  t.equal(happy?.outcome, 'completed');
  t.same(happy?.effects, ['do pick-lines[0].reserve ok', 'do pick-lines[1].reserve ok', 'do pick-lines[0].pick ok', 'do pick-lines[1].pick ok', 'do pack-order ok', 'do ship-order ok']);
  const off = report.scenarios.find((s) => s.name.startsWith('when of pick-lines[0].pick is false'));
  t.ok(off?.effects.includes('skip pick-lines[0].pick'), 'the first element skips its pick');
  t.notOk(off?.effects.includes('skip pick-lines[1].pick'), 'the second does not');
  const late = report.scenarios.find((s) => s.name === 'pick-lines[1].pick fails');
  t.same(undos(late?.trace ?? []), ['pick-lines[0].pick', 'pick-lines[1].reserve', 'pick-lines[0].reserve'], 'undone latest completion first, across elements');
});

t.test("scripts name one element's step, or the step of every element by the group's name", async (t) => {
  t.same(parseScript(['pick-lines[1].pick=fail,pick-lines[0].reserve.undo=timeout']), {
    do: { 'pick-lines[1].pick': [{ kind: 'fail', delay: null }] }, undo: { 'pick-lines[0].reserve': [{ kind: 'timeout', delay: null }] }, cancel: null,
  });
  const one = simulate(saga, { input: three, script: 'pick-lines[1].pick=fail' });
  t.equal(one.outcome, 'compensated');
  t.ok(dos(one.effects).includes('do pick-lines[1].pick fail'));
  const all = simulate(saga, { input: three, script: 'pick-lines.pick=fail' });
  t.equal(all.outcome, 'compensated');
  t.same(dos(all.effects).filter((e) => e.endsWith(' fail')), ['do pick-lines[0].pick fail'], 'the first pick to answer fails the saga');
  t.ok(all.ok);
  const cancel = simulate(saga, { input: three, script: 'cancel=pick-lines.pick' });
  t.equal(cancel.outcome, 'compensated');
  t.ok(cancel.ok);
});

t.test("the checker catches an element's step wronged", async (t) => {
  const run = simulate(saga, { input: three, script: 'pack-order=fail' });
  t.same(undos(run.trace), ['pick-lines[2].pick', 'pick-lines[2].reserve', 'pick-lines[1].pick', 'pick-lines[0].pick', 'pick-lines[1].reserve', 'pick-lines[0].reserve']);
  t.same(checkGuarantee(saga, run.trace).violations, []);
  const skipped = run.trace.filter((e) => !((e.kind === 'send' || e.kind === 'reply') && e.step === 'pick-lines[1].pick' && e.undo));
  t.ok(checkGuarantee(saga, skipped).violations.some((v) => v.rule === 'not-compensated' && /pick-lines\[1\]\.pick/.test(v.message)), 'not compensated');
  const i = run.trace.findIndex((e) => e.kind === 'send' && e.undo && e.step === 'pick-lines[2].pick');
  const j = run.trace.findIndex((e) => e.kind === 'send' && e.undo && e.step === 'pick-lines[2].reserve');
  const swapped = [...run.trace];
  [swapped[i], swapped[j]] = [swapped[j] as TraceEntry, swapped[i] as TraceEntry];
  t.ok(checkGuarantee(saga, swapped).violations.some((v) => v.rule === 'reverse-order'), 'out of order');
  const ok = simulate(saga, { input: three });
  const missing = ok.trace.filter((e) => !(e.kind === 'reply' && e.step === 'pick-lines[1].pick'));
  t.ok(checkGuarantee(saga, missing).violations.some((v) => v.rule === 'completed-inconsistent' && /pick-lines\[1\]\.pick never succeeded/.test(v.message)), 'incomplete');
});

t.test('sagactl validate, test and simulate on sagas/pick-and-pack.yaml', async (t) => {
  const v = await cli(['validate', file]);
  t.equal(v.code, 0, v.err);
  t.match(v.out, /ok pick-and-pack \(4 steps, pivot ship-order/);
  const r = await cli(['test', file]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^PASS 1 saga, \d+ scenarios, no violation$/m);
  const s = await cli(['simulate', file, '--saga', 'pick-and-pack', '--script', 'pick-lines[1].pick=fail']);
  t.equal(s.code, 0, s.err);
  t.match(s.out, /StepFailed +pick-lines\[1\]\.pick failed: reply PickFailed/);
  t.match(s.out, /CompensationStarted .*to undo: pick-lines\[0\]\.pick, pick-lines\[1\]\.reserve, pick-lines\[0\]\.reserve/);
});

t.test("a cases file scripts an element's step, or the group's step for every element, and expects its effects", async (t) => {
  const good = [
    'cases:',
    '  - name: the second line cannot be picked',
    `    input: ${JSON.stringify({ ...three, lines: three.lines.slice(0, 2) })}`,
    "    replies: { 'pick-lines[1].pick': fail }",
    `    expect: ${JSON.stringify({ outcome: 'compensated', effects: [
      'do pick-lines[0].reserve ok', 'do pick-lines[1].reserve ok', 'do pick-lines[0].pick ok', 'do pick-lines[1].pick fail',
      'undo pick-lines[0].pick ok', 'undo pick-lines[1].reserve ok', 'undo pick-lines[0].reserve ok'] })}`,
    '  - name: every line is busy once',
    `    input: ${JSON.stringify({ ...three, lines: three.lines.slice(0, 1) })}`,
    "    replies: { 'pick-lines.reserve': [retryable, ok] }",
    `    expect: ${JSON.stringify({ outcome: 'completed', effects: [
      'do pick-lines[0].reserve retryable', 'do pick-lines[0].reserve#2 ok', 'do pick-lines[0].pick ok', 'do pack-order ok', 'do ship-order ok'] })}`,
  ];
  const r = parseCases(good.join('\n'), 'c.yaml', { 'pick-and-pack': saga });
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.line}: ${e.message}`).join('\n'));
  for (const c of r.cases) {
    const result = runCase(saga, c);
    t.same(result.mismatches, [], c.name);
    t.ok(result.ok, c.name);
  }
  const bad = parseCases([...good, '  - name: no such step', "    replies: { 'pick-lines[0].pack': fail }"].join('\n'), 'c.yaml', { 'pick-and-pack': saga });
  t.notOk(bad.ok, 'a step the group does not have is refused');
  if (!bad.ok) t.match(bad.errors.map((e) => [e.line, e.message]), [[11, 'saga pick-and-pack has no step `pick-lines[0].pack`']]);
});
