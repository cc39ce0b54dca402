/**
 * The guarantee checker: it accepts a right trace and catches each kind of wrong one, written
 * by hand or made by tampering with a real run's trace.
 */
import { join } from 'node:path';
import t from 'tap';
import type { SagaEvent } from '../../engine/core/index.js';
import { checkGuarantee, loadSagas, runScenario, simulate, type TraceEntry } from '../../engine/testing/index.js';

const travel = loadSagas(join(import.meta.dirname, 'fixtures/travel.yaml')).travel;
if (travel === undefined) throw new Error('fixture travel.yaml has no saga travel');

const id = (step: string, undo: boolean, attempt: number): string => `${undo ? 'u' : 'd'}-${step}-${attempt}`;
const send = (at: number, step: string, undo = false, attempt = 1): TraceEntry => ({ at, kind: 'send', step, undo, attempt, commandId: id(step, undo, attempt) });
const reply = (at: number, step: string, kind: 'success' | 'failure' | 'retryable', undo = false, attempt = 1, taken = true): TraceEntry =>
  ({ at, kind: 'reply', step, undo, attempt, commandId: id(step, undo, attempt), reply: kind, taken });
const j = (event: SagaEvent): TraceEntry => ({ at: event.at, kind: 'journal', event });
const reason = { kind: 'step_failed' as const, step: 'pay', message: 'step pay failed' };

/** hold-seats and insure succeed, the pivot is declined, both are compensated latest first. */
function rightTrace(): TraceEntry[] {
  return [
    send(0, 'hold-seats'), reply(1, 'hold-seats', 'success'), j({ type: 'StepSucceeded', at: 1, step: 'hold-seats', replyId: 'r1', output: {}, pivot: false }),
    send(1, 'insure'), reply(2, 'insure', 'success'), j({ type: 'StepSucceeded', at: 2, step: 'insure', replyId: 'r2', output: {}, pivot: false }),
    send(2, 'pay'), reply(3, 'pay', 'failure'), j({ type: 'StepFailed', at: 3, step: 'pay', error: 'Declined', status: 'failed', outcome: 'not_done' }),
    j({ type: 'CompensationStarted', at: 3, reason, queue: ['insure', 'hold-seats'] }),
    send(3, 'insure', true), reply(4, 'insure', 'success', true), j({ type: 'StepCompensated', at: 4, step: 'insure', replyId: 'r4' }),
    send(4, 'hold-seats', true), reply(5, 'hold-seats', 'success', true), j({ type: 'StepCompensated', at: 5, step: 'hold-seats', replyId: 'r5' }),
    j({ type: 'SagaCompensated', at: 5 }),
  ];
}

const rules = (trace: TraceEntry[]): string[] => checkGuarantee(travel, trace).violations.map((v) => v.rule);

t.test('a right trace breaks no rule', async (t) => {
  t.same(checkGuarantee(travel, rightTrace()), { violations: [], warnings: [] });
});

t.test('compensating in completion order instead of reverse is caught', async (t) => {
  const trace = rightTrace();
  const insure = trace.findIndex((e) => e.kind === 'send' && e.undo && e.step === 'insure');
  const swapped = [...trace.slice(0, insure), ...trace.slice(insure + 3, insure + 6), ...trace.slice(insure, insure + 3), ...trace.slice(insure + 6)];
  const report = checkGuarantee(travel, swapped);
  t.ok(report.violations.length > 0);
  t.equal(report.violations[0]?.rule, 'reverse-order');
  t.match(report.violations[0]?.message, /compensation #1 is hold-seats, but .* are insure, hold-seats/);
  t.equal(report.violations[0]?.at, insure, 'the violation points at the offending trace entry');
});

t.test('compensating the pivot is caught', async (t) => {
  const trace = rightTrace();
  trace.splice(trace.length - 1, 0, send(6, 'pay', true));
  t.ok(rules(trace).includes('after-pivot'));
});

t.test('beginning to compensate after the pivot succeeded is caught', async (t) => {
  const trace = rightTrace().map((e) => (e.kind === 'reply' && e.step === 'pay' ? { ...e, reply: 'success' as const } : e))
    .map((e) => (e.kind === 'journal' && e.event.type === 'StepFailed' ? j({ type: 'StepSucceeded', at: 3, step: 'pay', replyId: 'r3', output: {}, pivot: true }) : e));
  t.ok(rules(trace).includes('after-pivot'));
});

t.test('compensating a step that never started is caught', async (t) => {
  const trace = rightTrace().filter((e) => !((e.kind === 'send' || e.kind === 'reply') && !e.undo && e.step === 'insure'));
  t.ok(rules(trace).includes('never-started'));
});

t.test('ending compensated with a step left undone is caught', async (t) => {
  const trace = rightTrace().filter((e) => !((e.kind === 'send' || e.kind === 'reply') && e.undo && e.step === 'hold-seats'));
  t.same(rules(trace), ['not-compensated']);
});

t.test('compensating a step twice is caught', async (t) => {
  const trace = rightTrace();
  trace.splice(trace.length - 1, 0, send(6, 'hold-seats', true, 2), reply(7, 'hold-seats', 'success', true, 2));
  t.ok(rules(trace).includes('compensated-twice'));
});

t.test('sending a step once compensation began is caught', async (t) => {
  const trace = rightTrace();
  const started = trace.findIndex((e) => e.kind === 'journal' && e.event.type === 'CompensationStarted');
  trace.splice(started + 1, 0, send(3, 'ticket'));
  t.ok(rules(trace).includes('do-after-compensation'));
});

t.test('compensating a step its participant refused in time is caught', async (t) => {
  const trace: TraceEntry[] = [
    send(0, 'hold-seats'), reply(1, 'hold-seats', 'failure'),
    j({ type: 'StepFailed', at: 1, step: 'hold-seats', error: 'SoldOut', status: 'failed', outcome: 'not_done' }),
    j({ type: 'CompensationStarted', at: 1, reason, queue: ['hold-seats'] }),
    send(1, 'hold-seats', true), reply(2, 'hold-seats', 'success', true), j({ type: 'SagaCompensated', at: 2 }),
  ];
  t.ok(rules(trace).includes('refused-yet-compensated'));
});

t.test('a late success left uncompensated is caught; the core compensates it', async (t) => {
  // Attempt 1 times out, attempt 2 is refused, then attempt 1 answers success after the saga ended.
  const ignoredLate: TraceEntry[] = [
    send(0, 'hold-seats'), send(10, 'hold-seats', false, 2), reply(11, 'hold-seats', 'failure', false, 2),
    j({ type: 'StepFailed', at: 11, step: 'hold-seats', error: 'SoldOut', status: 'failed', outcome: 'not_done' }),
    j({ type: 'CompensationStarted', at: 11, reason, queue: [] }), j({ type: 'SagaCompensated', at: 11 }),
    reply(1000, 'hold-seats', 'success', false, 1, false),
  ];
  t.same(rules(ignoredLate), ['not-compensated']);
  const r = simulate(travel, { script: 'hold-seats=late,fail' });
  t.same(r.effects, ['do hold-seats ok late', 'do hold-seats#2 fail', 'undo hold-seats ok']);
  t.equal(r.outcome, 'compensated');
  t.same(r.guarantee.violations, []);
});

t.test('a real run tampered with is caught, untouched it passes', async (t) => {
  const r = simulate(travel, { script: 'pay=fail' });
  t.equal(r.outcome, 'compensated');
  t.ok(r.ok);
  t.same(r.effects, ['do hold-seats ok', 'do insure ok', 'do pay fail', 'undo insure ok', 'undo hold-seats ok']);
  // Drop the compensation of insure from the real trace: the checker must miss it.
  const tampered = r.trace.filter((e) => !((e.kind === 'send' || e.kind === 'reply') && e.undo && e.step === 'insure'));
  t.ok(checkGuarantee(travel, tampered).violations.some((v) => v.rule === 'not-compensated' && /insure/.test(v.message)));
});

t.test('a scenario result carries the guarantee report and is ok only without violations', async (t) => {
  const r = runScenario(travel, { name: 'x', kind: 'cancel', script: { do: {}, undo: {}, cancel: { step: 'insure' } } });
  t.equal(r.outcome, 'compensated');
  t.same(r.guarantee.violations, []);
  t.equal(r.ok, true);
});

t.test('beginning to compensate after a step past the pivot was sent is caught, even when the pivot was skipped', async (t) => {
  const skippedPivot = (flag: boolean): TraceEntry[] => [
    send(0, 'hold-seats'), reply(1, 'hold-seats', 'success'), j({ type: 'StepSucceeded', at: 1, step: 'hold-seats', replyId: 'r1', output: {}, pivot: false }),
    send(1, 'insure'), reply(2, 'insure', 'success'), j({ type: 'StepSucceeded', at: 2, step: 'insure', replyId: 'r2', output: {}, pivot: false }),
    j({ type: 'StepSkipped', at: 2, step: 'pay', ...(flag ? { pivot: true as const } : {}) }),
    send(2, 'ticket'),
    j({ type: 'StepGivenUp', at: 3, step: 'ticket', status: 'timed_out', outcome: 'unknown' }),
    j({ type: 'CompensationStarted', at: 3, reason, queue: ['insure', 'hold-seats'] }),
    send(3, 'insure', true), reply(4, 'insure', 'success', true), j({ type: 'StepCompensated', at: 4, step: 'insure', replyId: 'r4' }),
    send(4, 'hold-seats', true), reply(5, 'hold-seats', 'success', true), j({ type: 'StepCompensated', at: 5, step: 'hold-seats', replyId: 'r5' }),
    j({ type: 'SagaCompensated', at: 5 }),
  ];
  for (const flag of [false, true]) {
    const report = checkGuarantee(travel, skippedPivot(flag));
    t.ok(report.violations.some((v) => v.rule === 'after-pivot' && /ticket, which comes after the pivot/.test(v.message)),
      `the ticket sent past the skipped pivot (${flag ? 'journaled as the pivot' : 'an older journal'})`);
  }
});
