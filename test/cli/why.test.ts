import t from 'tap';
import type { InstanceDocument } from '../../engine/api/index.js';
import { explain } from '../../cli/why.js';
import { Fixture, fillScenarios, t0 } from './fixture.js';

const f = new Fixture();
fillScenarios(f);
t.teardown(() => f.close());

const iso = (ms: number) => new Date(ms).toISOString();
const timerAt = (id: string, kind: string) => f.store.timersOf(id).find((r) => r.data.kind === kind)?.dueAt;

t.test('running, awaiting a reply after a timed-out first attempt: the step, attempt 2 of 3, since, the timeout, cancel', async (t) => {
  const a = explain(f.why('ord-retried'));
  t.equal(a.state, 'running');
  t.equal(a.waitingFor, 'reply');
  const sent = f.store.history('ord-retried').filter((e) => e.type === 'StepDispatched').at(-1)?.at ?? 0;
  t.match(a.steps, [{ step: 'reserve-inventory', waitingFor: 'reply', attempt: 2, maxAttempts: 3, since: iso(sent), next: { kind: 'attempt_timeout', at: iso(timerAt('ord-retried', 'attempt_timeout') ?? 0) } }]);
  t.match(a.text, /waiting for the reply \(InventoryReserved\) on inventory\.events to its ReserveInventory command for step reserve-inventory, attempt 2 of 3, sent 12:05:59 UTC \(2\.85s ago\)/);
  t.match(a.text, /without a reply by 12:06:04 UTC \(in 2\.15s\), attempt 3 follows/);
  t.match(a.text, /previous attempt failed with “no reply within 5000 ms”/);
  t.match(a.text, /saga deadline falls at 12:15:54 UTC \(in 9m51s\)/);
  t.match(a.text, /check the service that consumes inventory\.commands/);
  t.strictSame(a.actions, ['sagactl cancel ord-retried --reason "..."']);
  t.equal(a.lastError, 'no reply within 5000 ms');
  t.notMatch(a.text, /\n/, 'one paragraph');
});

t.test('running, a retryable reply: when the next attempt goes out and why the last one failed', async (t) => {
  const a = explain(f.why('ord-busy'));
  t.equal(a.waitingFor, 'retry');
  t.match(a.steps, [{ step: 'reserve-inventory', attempt: 1, maxAttempts: 3, next: { kind: 'retry', at: iso(timerAt('ord-busy', 'retry') ?? 0) }, lastError: /InventoryBusy/ }]);
  t.match(a.text, /Step reserve-inventory failed its attempt 1 of 3 at .* with “reply InventoryBusy \{"reason":"warehouse lock"\}”; attempt 2 goes out at 12:06:02 UTC/);
});

t.test('running, parallel branches: both steps with their own timeouts and services', async (t) => {
  const a = explain(f.why('trip-parallel'));
  t.equal(a.steps.length, 2);
  t.match(a.steps, [{ step: 'book-flight', attempt: 1, maxAttempts: 4 }, { step: 'book-hotel', attempt: 1, maxAttempts: 4 }]);
  t.match(a.text, /2 steps run in parallel/);
  t.match(a.text, /book-flight.*in 18\.9s.*book-hotel.*in 58\.9s/);
  t.match(a.text, /consumes flights\.commands and hotels\.commands/);
});

t.test('running, a wait step: the event, since when, and its timeout', async (t) => {
  const a = explain(f.why('trip-waiting'));
  t.equal(a.waitingFor, 'event');
  t.match(a.steps, [{ step: 'await-payment', waitingFor: 'event', maxAttempts: 1, next: { kind: 'wait_timeout', at: iso(timerAt('trip-waiting', 'wait_timeout') ?? 0) } }]);
  t.match(a.text, /waiting for a PaymentConfirmed event on payments\.events for step await-payment since 12:06:01 UTC/);
  t.match(a.text, /if none comes by 13:06:01 UTC \(in 59m59s\), the step times out and the saga compensates/);
});

t.test('running past the pivot: unlimited attempts, cancel refused, nothing to do', async (t) => {
  const a = explain(f.why('ord-pivot'));
  t.match(a.steps, [{ step: 'ship-order', attempt: 1, maxAttempts: null }]);
  t.match(a.text, /attempt 1 of unlimited/);
  t.match(a.text, /past its pivot ship-order, the point of no return: cancel is refused/);
  t.notMatch(a.text, /sagactl cancel/);
  t.notMatch(a.text, /saga deadline falls/);
  t.strictSame(a.actions, ['sagactl describe ord-pivot']);
});

t.test('compensating after a cancel: the undo in flight, what is still to undo, no action but wait', async (t) => {
  const a = explain(f.why('ord-cancelled'));
  t.equal(a.waitingFor, 'undo-reply');
  t.match(a.steps, [{ step: 'charge-payment', waitingFor: 'undo-reply', attempt: 1, maxAttempts: null, next: { kind: 'comp_timeout' } }]);
  t.match(a.text, /is compensating because cancelled: customer called/);
  t.match(a.text, /to its RefundPayment command that undoes step charge-payment, attempt 1 of unlimited/);
  t.match(a.text, /After that, reserve-inventory is still to undo/);
  t.match(a.text, /waits for `sagactl retry ord-cancelled`/);
  t.notMatch(a.text, /given up/, 'the forward step\'s give-up is the reason, not news');
  t.strictSame(a.actions, ['sagactl history ord-cancelled --follow']);
});

t.test('compensating because the pivot was rejected', async (t) => {
  const a = explain(f.why('ord-rejected'));
  t.match(a.text, /compensating because step ship-order failed: reply ShipmentRejected/);
  t.match(a.text, /undoes step charge-payment/);
});

t.test('failed: the undo that ran out of attempts, the reason, and retry', async (t) => {
  const a = explain(f.why('ord-stuck'));
  t.equal(a.waitingFor, 'operator');
  t.match(a.steps, [{ step: 'reserve-inventory', waitingFor: 'undo-retry', attempt: 10, maxAttempts: 10, next: null }]);
  t.match(a.text, /failed and waiting for an operator: undoing step reserve-inventory \(ReleaseInventory\) failed after 10 of 10 attempts/);
  t.match(a.text, /begun compensating because cancelled: fraud suspected/);
  t.match(a.text, /the service that consumes inventory\.commands\), then resume the compensation with `sagactl retry ord-stuck`/);
  t.strictSame(a.actions, ['sagactl retry ord-stuck']);
});

t.test('ended: completed and compensated wait for nothing', async (t) => {
  const done = explain(f.why('ord-completed'));
  t.equal(done.waitingFor, 'nothing');
  t.match(done.text, /waiting for nothing: it completed at 12:00:01 UTC \(6m00s ago\), 1\.96s after it started; 3 steps succeeded\. There is nothing to do\./);
  t.strictSame(done.actions, []);
  const comp = explain(f.why('ord-compensated'));
  t.match(comp.text, /compensated at 12:01:02 UTC .* because step charge-payment failed: reply PaymentDeclined .*Undone: reserve-inventory\./);
  t.strictSame(comp.actions, ['sagactl history ord-compensated']);
});

t.test('failed after the pivot (no compensation): retry resumes the step', async (t) => {
  const base = f.why('ord-pivot');
  const instance: InstanceDocument = {
    ...base.instance, state: 'failed', failure: { step: 'ship-order', error: 'schema: payload must have trackingNumber' },
    steps: base.instance.steps.map((s) => (s.name === 'ship-order' ? { ...s, state: 'failed', finishedAt: iso(base.now - 1000), lastError: 'schema: payload must have trackingNumber' } : s)),
    timers: [],
  };
  const a = explain({ ...base, instance });
  t.equal(a.waitingFor, 'operator');
  t.match(a.text, /step ship-order failed at .* with “schema: payload must have trackingNumber”, after the pivot, so nothing was compensated/);
  t.match(a.text, /resume step ship-order with `sagactl retry ord-pivot`/);
});

t.test('without the definition or the journal: still an answer, attempts as n of ?', async (t) => {
  const base = f.why('ord-retried');
  const a = explain({ instance: base.instance, now: base.now });
  t.match(a.steps, [{ step: 'reserve-inventory', attempt: 2, maxAttempts: undefined }]);
  t.match(a.text, /its command for step reserve-inventory, attempt 2 of \?/);
  t.match(a.text, /definition could not be read/);
  const c = explain({ instance: f.why('ord-cancelled').instance, now: base.now });
  t.notMatch(c.text, /still to undo/, 'no journal: the queue is not guessed');
});

t.test('an overdue timer says sagad is stopped or behind (a database read offline)', async (t) => {
  const base = f.why('ord-retried');
  const a = explain({ ...base, now: base.now + 60_000 });
  t.match(a.text, /without a reply by 12:06:04 UTC \(57\.9s ago; overdue, so sagad is stopped or behind\), attempt 3 follows/);
});

t.test('an unknown state is named, not guessed', async (t) => {
  const base = f.why('ord-completed');
  const a = explain({ ...base, instance: { ...base.instance, state: 'paused' } });
  t.match(a.text, /in state paused, which this sagactl does not know/);
  t.equal(t0 < base.now, true);
});

t.test('running with its pivot skipped by its when: past the pivot, as the core has it; no cancel offered', async (t) => {
  const input = f.why('ord-retried');
  const skipped = { ...input, instance: { ...input.instance, steps: input.instance.steps.map((s) => (s.name === 'ship-order' ? { ...s, state: 'skipped' } : s)) } } as typeof input;
  const a = explain(skipped);
  t.match(a.text, /past its pivot ship-order, the point of no return: cancel is refused/);
  t.notMatch(a.text, /sagactl cancel/);
});
