/** `sagactl simulate`: a scripted instance printed as a timeline, with simulated times. */
import { join } from 'node:path';
import t from 'tap';
import { cli } from './helpers.js';

const root = join(import.meta.dirname, '../..');
const travel = join(root, 'test/testing/fixtures/travel.yaml');

t.test('a failing step: the timeline as history prints it, then the effects and the check', async (t) => {
  const r = await cli(['simulate', join(root, 'saga-definitions.yaml'), '--saga', 'order-fulfillment', '--script', 'charge-payment=fail']);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^ SEQ +AT +EVENT +DETAIL\n/);
  t.match(r.out, /\n +1 +\+0ms +SagaStarted +key orderId, correlation corr-1, deadline \+10m00s\n/);
  t.match(r.out, /\n +3 +\+100ms +StepSucceeded +reserve-inventory\n/);
  t.match(r.out, /\+200ms +StepFailed +charge-payment failed: reply PaymentDeclined/);
  t.match(r.out, /CompensationStarted +step charge-payment failed: .*; to undo: reserve-inventory/);
  t.match(r.out, /\+300ms +SagaCompensated/);
  t.match(r.out, /do reserve-inventory ok · do charge-payment fail · undo reserve-inventory ok\n/);
  t.match(r.out, /The saga guarantee held\.\n$/);
});

t.test('scripts over several options: retries with delays, a failing compensation, simulated times', async (t) => {
  const r = await cli(['simulate', travel, '--script', 'hold-seats=retryable,ok:3s', '--script', 'pay=fail,hold-seats.undo=timeout*2,ok']);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /\+100ms +StepAttemptFailed +hold-seats attempt 1: reply SeatsBusy .*; next attempt at \+1\.10s/);
  t.match(r.out, /\+4\.10s +StepSucceeded +hold-seats/);
  t.match(r.out, /do hold-seats retryable · do hold-seats#2 ok · do insure ok · do pay fail · undo insure ok · undo hold-seats timeout · undo hold-seats#2 timeout · undo hold-seats#3 ok/);
  t.match(r.out, /compensated\n/);
});

t.test('-o json gives the history documents at simulated times, and the outcome', async (t) => {
  const r = await cli(['simulate', travel, '--script', 'cancel=insure', '-o', 'json']);
  t.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out) as { outcome: string; ok: boolean; effects: string[]; items: { seq: number; type: string; at: string }[] };
  t.equal(doc.outcome, 'compensated');
  t.equal(doc.ok, true);
  t.same(doc.effects, ['do hold-seats ok', 'do insure ok ignored', 'cancel', 'undo insure ok', 'undo hold-seats ok']);
  t.same(doc.items[0], { seq: 1, type: 'SagaStarted', version: 1, at: '1970-01-01T00:00:00.000Z', data: doc.items[0] && (doc.items[0] as unknown as { data: unknown }).data });
  t.equal(doc.items.at(-1)?.type, 'SagaCompensated');
});

t.test('a bad script is a usage error with a hint; so is a file of several sagas without --saga', async (t) => {
  const bad = await cli(['simulate', travel, '--script', 'pay=perhaps']);
  t.equal(bad.code, 2);
  t.match(bad.err, /sagactl: --script: `perhaps` is not a reply\nHint: Write STEP=REPLY/);
  const unknown = await cli(['simulate', travel, '--script', 'hotel=fail']);
  t.equal(unknown.code, 2);
  t.match(unknown.err, /saga travel has no step `hotel`\nHint: Its steps are hold-seats, insure, pay, ticket/);
  const many = await cli(['simulate', join(root, 'test/testing/fixtures/twenty-by-ten.yaml')]);
  t.equal(many.code, 2);
  t.match(many.err, /has 20 sagas; say which one to run\nHint: Add --saga with one of bulk-01,/);
});

t.test('help documents the script syntax with examples', async (t) => {
  const r = await cli(['simulate', '--help']);
  t.equal(r.code, 0);
  t.match(r.out, /STEP=REPLY\[,REPLY\.\.\.\]/);
  t.match(r.out, /late +no reply in time; success arrives DELAY \(default 1s\) after the step was given up/);
  t.match(r.out, /\$ sagactl simulate saga-definitions\.yaml --saga order-fulfillment --script charge-payment=fail/);
});
