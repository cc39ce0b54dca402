import t from 'tap';
import { decide, evolve, isRejection, start, type Decision, type Effect, type IncomingMessage, type InstanceState, type SagaInput } from '../../engine/core/index.js';
import { loadFixture, testEnv } from './harness.js';
import { sagaOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * The effects in full, field by field: the golden traces summarize a command to its subject,
 * type, id, key, attempt and payload, but a participant also reads its aggregateId,
 * correlation and causation ids, timestamp and Saga-Deadline (DESIGN section 3), and a
 * lifecycle event carries the instance's id, saga, key and state.
 */
const order = loadFixture('order.yaml').order!;
const trip = loadFixture('trip.yaml').trip!;
const gate = loadFixture('gate.yaml').gate!;

const counter = { n: 0 };
const env = (now: number) => testEnv(now, counter);

function decided(d: ReturnType<typeof decide>): Decision {
  if (isRejection(d)) throw new Error(`rejected: ${d.rejected.message}`);
  return d;
}

function reply(state: InstanceState, step: string, eventType: string, eventId: string, payload: unknown = {}, undo = false): SagaInput {
  const st = state.steps[step];
  const cmds = undo ? st?.compensation?.commands : st?.commands;
  const causationId = cmds?.[cmds.length - 1];
  if (causationId === undefined) throw new Error(`no command of ${step}`);
  const message: IncomingMessage = { eventId, eventType, correlationId: 'c-9', causationId, aggregateId: 'x', version: 1, payload };
  return { type: 'ReplyReceived', message };
}

const sends = (d: Decision) => d.effects.filter((e): e is Extract<Effect, { type: 'SendCommand' }> => e.type === 'SendCommand');
const lifecycles = (d: Decision) => d.effects.filter((e): e is Extract<Effect, { type: 'PublishLifecycle' }> => e.type === 'PublishLifecycle');

t.test('a start: its lifecycle event and its first command, every field', async (t) => {
  counter.n = 0;
  const d = start(order, { id: 'i-1', input: { orderId: 'o-1', qty: 2, amount: '3' }, key: 'o-1', correlationId: 'c-9', event: null, causationId: 'req-7' }, env(1000));
  t.same(d.ignored, null);
  t.same(d.effects, [
    { type: 'PublishLifecycle', eventId: 'm1', eventType: 'SagaStarted', timestamp: 1000, payload: { id: 'i-1', saga: 'order', key: 'o-1', state: 'running' } },
    { type: 'ScheduleTimer', timerId: 'deadline', dueAt: 601_000, timer: { kind: 'deadline' } },
    {
      type: 'SendCommand', step: 'reserve', side: 'do',
      command: {
        eventId: 'm2', subject: 'inventory.commands', eventType: 'ReserveInventory', version: 1,
        aggregateId: 'o-1', correlationId: 'c-9', causationId: 'req-7', timestamp: 1000,
        payload: { orderId: 'o-1', qty: 2 }, deadlineAt: 6000,
        headers: { 'Saga-Id': 'i-1', 'Saga-Name': 'order', 'Saga-Step': 'reserve', 'Saga-Attempt': '1', 'Idempotency-Key': 'i-1/reserve/do' },
      },
    },
    { type: 'ScheduleTimer', timerId: 'attempt_timeout:reserve:1', dueAt: 6000, timer: { kind: 'attempt_timeout', step: 'reserve', attempt: 1 } },
  ]);
  t.same(d.events[0], {
    type: 'SagaStarted', at: 1000, instanceId: 'i-1', saga: 'order', definitionHash: order.hash, key: 'o-1',
    correlationId: 'c-9', input: { orderId: 'o-1', qty: 2, amount: '3' }, event: null, deadlineAt: 601_000,
  });
  t.same(d.state.deadlineAt, 601_000);
});

t.test('without a key the aggregateId is the instance id; the trigger event is kept for $event', async (t) => {
  counter.n = 0;
  const event = { eventId: 'e-1', payload: { tripId: 't' } };
  const d = start(trip, { id: 'i-2', input: { tripId: 't' }, key: null, correlationId: 'c-2', event, causationId: 'e-1' }, env(0));
  const [flight, hotel] = sends(d);
  t.same([flight?.command.aggregateId, hotel?.command.aggregateId], ['i-2', 'i-2']);
  t.same(lifecycles(d)[0]?.payload, { id: 'i-2', saga: 'trip', key: null, state: 'running' });
  t.same(d.state.event, event);
  t.equal(d.state.key, null);
});

t.test('the Saga-Deadline of a command is its attempt timeout, or the saga deadline if that comes first, but never for a step past the pivot', async (t) => {
  counter.n = 0;
  const s0 = start(order, { id: 'i-3', input: { orderId: 'o-3', qty: 1, amount: '3' }, key: 'o-3', correlationId: 'c-9', event: null, causationId: 'r' }, env(0));
  // The saga deadline is at 600,000; charge's attempt timeout (2 s) would end after it.
  const s1 = decided(decide(order, s0.state, reply(s0.state, 'reserve', 'InventoryReserved', 'ok-1', { reservationId: 'r-1' }), env(599_000)));
  const charge = sends(s1)[0];
  t.equal(charge?.command.deadlineAt, 600_000, 'the saga deadline, before the attempt timeout');
  t.equal(charge?.command.causationId, 'ok-1', 'caused by the reply');
  t.equal(charge?.command.timestamp, 599_000);
  t.match(s1.events, [{ type: 'StepSucceeded' }, { type: 'StepDispatched', step: 'charge', attempt: 1, timeoutAt: 601_000 }]);
  const s2 = decided(decide(order, s1.state, reply(s1.state, 'charge', 'PaymentCharged', 'ok-2', { chargeId: 'ch' }), env(599_500)));
  const ship = sends(s2)[0];
  t.equal(ship?.step, 'ship');
  t.equal(ship?.command.deadlineAt, 604_500, 'the pivot is past the deadline\'s reach: its own timeout');
  // Attempt 2 of charge, after a retryable reply, says attempt 2 and is caused by the retry timer.
  const r1 = decided(decide(order, s1.state, reply(s1.state, 'charge', 'PaymentBusy', 'busy-1'), env(599_100)));
  t.match(r1.events, [{ type: 'StepAttemptFailed', step: 'charge', attempt: 1, error: 'reply PaymentBusy {}', retryAt: 600_100 }]);
  const r2 = decided(decide(order, r1.state, { type: 'TimerFired', timer: { kind: 'retry', step: 'charge', attempt: 1 } }, env(600_100)));
  t.same(r2.ignored, null);
  const again = sends(r2)[0]?.command;
  t.same([again?.causationId, again?.headers['Saga-Attempt'], again?.deadlineAt], ['timer:i-3', '2', 600_000]);
});

t.test('an undo command: side undo, its own idempotency key, caused by the operator\'s cancel', async (t) => {
  counter.n = 0;
  const s0 = start(order, { id: 'i-4', input: { orderId: 'o-4', qty: 1, amount: '3' }, key: 'o-4', correlationId: 'c-9', event: null, causationId: 'r' }, env(0));
  const s1 = decided(decide(order, s0.state, reply(s0.state, 'reserve', 'InventoryReserved', 'ok-1', { reservationId: 'res-4' }), env(10)));
  const c = decided(decide(order, s1.state, { type: 'CancelRequested', reason: 'customer asked' }, env(20)));
  t.match(c.events, [
    { type: 'StepGivenUp', step: 'charge', status: 'timed_out', outcome: 'unknown' },
    { type: 'CompensationStarted', reason: { kind: 'cancelled', step: null, message: 'cancelled: customer asked' }, queue: ['charge', 'reserve'] },
    { type: 'CompensationDispatched', step: 'charge', attempt: 1, timeoutAt: 2020 },
  ]);
  const undo = sends(c)[0];
  t.same(undo, {
    type: 'SendCommand', step: 'charge', side: 'undo',
    command: {
      eventId: undo?.command.eventId, subject: 'payments.commands', eventType: 'RefundPayment', version: 1,
      aggregateId: 'o-4', correlationId: 'c-9', causationId: 'cancel:i-4', timestamp: 20,
      payload: { orderId: 'o-4' }, deadlineAt: 2020,
      headers: { 'Saga-Id': 'i-4', 'Saga-Name': 'order', 'Saga-Step': 'charge', 'Saga-Attempt': '1', 'Idempotency-Key': 'i-4/charge/undo' },
    },
  });
  t.same(c.effects.filter((e) => e.type === 'CancelTimer').map((e) => e.type === 'CancelTimer' && e.timerId), ['attempt_timeout:charge:1', 'deadline']);
  const done = decided(decide(order, c.state, reply(c.state, 'charge', 'PaymentRefunded', 'u-1', {}, true), env(30)));
  t.same(sends(done)[0]?.command.causationId, 'u-1');
  const end = decided(decide(order, done.state, reply(done.state, 'reserve', 'InventoryReleased', 'u-2', {}, true), env(40)));
  t.same(lifecycles(end).map((e) => [e.eventType, e.timestamp, e.payload]), [
    ['SagaCompensated', 40, { id: 'i-4', saga: 'order', key: 'o-4', state: 'compensated', reason: 'cancelled: customer asked' }],
  ]);
  t.same(end.state.status, 'compensated');
});

t.test('rejections say why, with the instance, in words an operator can act on', async (t) => {
  counter.n = 0;
  const s0 = start(order, { id: 'i-5', input: { orderId: 'o-5', qty: 1, amount: '3' }, key: 'o-5', correlationId: 'c', event: null, causationId: 'r' }, env(0));
  const retry = decide(order, s0.state, { type: 'RetryRequested' }, env(1));
  t.same(retry, { rejected: { code: 'SAGA_ERR_INVALID_STATE', message: 'instance i-5 is running; only a failed instance can be retried' } });
  let s = s0.state;
  for (const [step, type, payload] of [['reserve', 'InventoryReserved', { reservationId: 'r' }], ['charge', 'PaymentCharged', { chargeId: 'c' }]] as const) {
    s = decided(decide(order, s, reply(s, step, type, `ok-${step}`, payload), env(2))).state;
  }
  t.same(decide(order, s, { type: 'CancelRequested', reason: '' }, env(3)), {
    rejected: { code: 'SAGA_ERR_PAST_PIVOT', message: 'instance i-5 has sent its pivot step ship; wait for its outcome: if it fails the saga compensates by itself' },
  });
  s = decided(decide(order, s, reply(s, 'ship', 'OrderShipped', 'ok-ship'), env(4))).state;
  t.same(decide(order, s, { type: 'CancelRequested', reason: '' }, env(5)), {
    rejected: { code: 'SAGA_ERR_PAST_PIVOT', message: 'instance i-5 is past its pivot step; it can no longer be compensated and will run to completion' },
  });
  s = decided(decide(order, s, reply(s, 'notify', 'ConfirmationSent', 'ok-notify'), env(6))).state;
  t.same(decide(order, s, { type: 'CancelRequested', reason: '' }, env(7)), {
    rejected: { code: 'SAGA_ERR_INVALID_STATE', message: 'instance i-5 is completed; only a running instance can be cancelled' },
  });
});

t.test('a wait matched by correlation: another correlation id is unmatched', async (t) => {
  counter.n = 0;
  const s0 = start(gate, { id: 'i-6', input: { n: 1, extras: 0, b: 0, v: 1 }, key: null, correlationId: 'corr-6', event: null, causationId: 'r' }, env(0));
  const s1 = decided(decide(gate, s0.state, reply(s0.state, 'prepare', 'Prepared', 'p'), env(1)));
  t.same(s1.state.steps['await-ok']?.status, 'running');
  const ev = (correlationId: string): SagaInput => ({ type: 'EventReceived', subject: 'g.events', message: { eventId: `e-${correlationId}`, eventType: 'Approved', correlationId, causationId: '', aggregateId: 'a', version: 1, payload: {} } });
  t.same(decided(decide(gate, s1.state, ev('corr-other'), env(2))).ignored, 'unmatched');
  t.equal(sends(s0)[0]?.command.deadlineAt, 10_000, 'no saga deadline: the attempt timeout alone');
  t.same(decided(decide(gate, s1.state, ev('corr-6'), env(2))).events[0], { type: 'StepSucceeded', at: 2, step: 'await-ok', replyId: 'e-corr-6', output: {}, pivot: false });
});

t.test('evolve refuses a journal that does not belong to the state, saying which', async (t) => {
  counter.n = 0;
  const s = start(order, { id: 'i-7', input: { orderId: 'o-7', qty: 1, amount: '3' }, key: 'o-7', correlationId: 'c', event: null, causationId: 'r' }, env(0));
  t.throws(() => evolve(s.state, s.events[0]!), { message: 'SagaStarted applied to existing instance i-7' });
  t.throws(() => evolve(undefined, { type: 'SagaCompleted', at: 1 }), { message: 'SagaCompleted applied before SagaStarted' });
  t.throws(() => evolve(s.state, { type: 'SagaCompensated', at: 1 }), { message: 'instance i-7 has no compensation plan' });
});

t.test('a reply is described in lastError with its payload, cut after 200 characters; a reply to no command is unmatched', async (t) => {
  counter.n = 0;
  const s0 = start(order, { id: 'i-8', input: { orderId: 'o-8', qty: 1, amount: '3' }, key: 'o-8', correlationId: 'c', event: null, causationId: 'r' }, env(0));
  const long = { text: 'x'.repeat(300) };
  const busy = reply(s0.state, 'reserve', 'InventoryBusy', 'b-1', long);
  const d = decided(decide(order, s0.state, busy, env(1)));
  const json = JSON.stringify(long);
  t.equal(d.state.steps.reserve?.lastError, `reply InventoryBusy ${json.slice(0, 200)}...`);
  const bare = { ...busy, message: { ...(busy as Extract<SagaInput, { type: 'ReplyReceived' }>).message, payload: undefined } } as SagaInput;
  t.equal(decided(decide(order, s0.state, bare, env(1))).state.steps.reserve?.lastError, 'reply InventoryBusy', 'no payload: the type alone');
  const exact = { t: 'y'.repeat(192) };
  t.equal(JSON.stringify(exact).length, 200);
  const at200 = reply(s0.state, 'reserve', 'InventoryBusy', 'b-2', exact);
  t.equal(decided(decide(order, s0.state, at200, env(1))).state.steps.reserve?.lastError, `reply InventoryBusy ${JSON.stringify(exact)}`, '200 characters are kept whole');
  const stray: SagaInput = { type: 'ReplyReceived', message: { eventId: 'x', eventType: 'InventoryReserved', correlationId: 'c', causationId: 'not-ours', aggregateId: 'a', version: 1, payload: {} } };
  t.equal(decided(decide(order, s0.state, stray, env(2))).ignored, 'unmatched');
  // A compensation timer of an instance that is not compensating is stale.
  t.equal(decided(decide(order, s0.state, { type: 'TimerFired', timer: { kind: 'comp_timeout', step: 'reserve', attempt: 1 } }, env(3))).ignored, 'stale');
  t.equal(decided(decide(order, s0.state, { type: 'TimerFired', timer: { kind: 'comp_retry', step: 'reserve', attempt: 1 } }, env(3))).ignored, 'stale');
});

t.test('an operator retry resumes the compensation with a command caused by the retry; an undo success while its retry waits cancels only the retry', async (t) => {
  counter.n = 0;
  let s = start(order, { id: 'i-9', input: { orderId: 'o-9', qty: 1, amount: '3' }, key: 'o-9', correlationId: 'c', event: null, causationId: 'r' }, env(0)).state;
  s = decided(decide(order, s, reply(s, 'reserve', 'InventoryReserved', 'ok-r', { reservationId: 'r' }), env(1))).state;
  s = decided(decide(order, s, reply(s, 'charge', 'PaymentCharged', 'ok-c', { chargeId: 'ch' }), env(2))).state;
  s = decided(decide(order, s, reply(s, 'ship', 'ShippingRefused', 'no-ship'), env(3))).state;
  t.equal(s.compensation?.queue[0], 'charge');
  // The refund is busy: a retry is scheduled; then the first attempt's success arrives after all.
  const busy = decided(decide(order, s, reply(s, 'charge', 'RefundBusy', 'rb-1', {}, true), env(4)));
  t.equal(busy.state.steps.charge?.compensation?.status, 'retrying');
  const late = reply(s, 'charge', 'PaymentRefunded', 'rf-1', {}, true);
  const done = decided(decide(order, busy.state, late, env(5)));
  t.same(done.effects.filter((e) => e.type === 'CancelTimer'), [{ type: 'CancelTimer', timerId: 'comp_retry:charge:1' }], 'the retry is cancelled, no attempt timeout');
  t.equal(done.state.steps.charge?.compensation?.status, 'compensated');
  // Both refund attempts time out: the instance fails, then the operator retries.
  let f = s;
  f = decided(decide(order, f, { type: 'TimerFired', timer: { kind: 'comp_timeout', step: 'charge', attempt: 1 } }, env(10_000))).state;
  f = decided(decide(order, f, { type: 'TimerFired', timer: { kind: 'comp_retry', step: 'charge', attempt: 1 } }, env(11_000))).state;
  const failed = decided(decide(order, f, { type: 'TimerFired', timer: { kind: 'comp_timeout', step: 'charge', attempt: 2 } }, env(20_000)));
  t.equal(failed.state.status, 'failed');
  t.match(failed.events, [{ type: 'CompensationFailed', step: 'charge', error: 'no reply within 2000 ms (attempt 2 of 2, no retries left)' }, { type: 'SagaFailed' }]);
  const retried = decided(decide(order, failed.state, { type: 'RetryRequested' }, env(30_000)));
  t.same(sends(retried).map((x) => [x.side, x.command.causationId, x.command.headers['Saga-Attempt']]), [['undo', 'retry:i-9', '1']]);
});

t.test('a compensation whose payload cannot be built fails at once: retrying cannot help, an operator must act', async (t) => {
  counter.n = 0;
  const def = sagaOf(`
version: 1
sagas:
  - name: undo-bad
    defaults: { timeout: 5s }
    steps:
      - name: a
        command: { subject: u.commands, type: A, payload: {} }
        reply: { subject: u.events, success: [ADone] }
        compensate:
          command: { subject: u.commands, type: UndoA, payload: { n: "{% $number($steps.a.v) %}" } }
          reply: { subject: u.events, success: [AUndone] }
      - name: b
        command: { subject: u.commands, type: B, payload: {} }
        reply: { subject: u.events, success: [BDone], failure: [BRefused] }
        pivot: true
`);
  let s = start(def, { id: 'u-1', input: {}, key: null, correlationId: 'c', event: null, causationId: 'r' }, env(0)).state;
  s = decided(decide(def, s, reply(s, 'a', 'ADone', 'ok-a', { v: 'not a number' }), env(1))).state;
  const d = decided(decide(def, s, reply(s, 'b', 'BRefused', 'no-b'), env(2)));
  const error = 'expression {% $number($steps.a.v) %} failed at character 8: Unable to cast value to a number: "not a number"';
  t.same(d.events.map((e) => e.type), ['StepFailed', 'CompensationStarted', 'CompensationFailed', 'SagaFailed']);
  t.match(d.events[2], { step: 'a', error });
  t.same(sends(d), [], 'no undo was sent');
  t.same(lifecycles(d).map((e) => e.payload.reason), [`compensation of a failed: ${error}`]);
  t.equal(d.state.status, 'failed');
  t.equal(d.state.steps.a?.compensation?.status, 'compensation_failed');
});

t.test('a step that cannot be compensated stays out of the queue: a wait without compensate', async (t) => {
  counter.n = 0;
  const def = sagaOf(`
version: 1
sagas:
  - name: waits
    defaults: { timeout: 5s }
    steps:
      - name: a
        command: { subject: w.commands, type: A, payload: {} }
        reply: { subject: w.events, success: [ADone] }
        compensate:
          command: { subject: w.commands, type: UndoA, payload: {} }
          reply: { subject: w.events, success: [AUndone] }
      - name: w
        wait: { subject: w.events, type: Go }
      - name: b
        command: { subject: w.commands, type: B, payload: {} }
        reply: { subject: w.events, success: [BDone], failure: [BRefused] }
        compensate:
          command: { subject: w.commands, type: UndoB, payload: {} }
          reply: { subject: w.events, success: [BUndone] }
      - name: c
        pivot: true
        command: { subject: w.commands, type: C, payload: {} }
        reply: { subject: w.events, success: [CDone] }
`);
  let s = start(def, { id: 'w-1', input: {}, key: null, correlationId: 'c', event: null, causationId: 'r' }, env(0)).state;
  s = decided(decide(def, s, reply(s, 'a', 'ADone', 'ok-a'), env(1))).state;
  s = decided(decide(def, s, { type: 'EventReceived', subject: 'w.events', message: { eventId: 'go', eventType: 'Go', correlationId: 'c', causationId: '', aggregateId: 'x', version: 1, payload: {} } }, env(2))).state;
  t.equal(s.steps.w?.outcome, 'done', 'the wait is done');
  const d = decided(decide(def, s, reply(s, 'b', 'BRefused', 'no-b'), env(3)));
  t.match(d.events, [{ type: 'StepFailed', step: 'b', outcome: 'not_done' }, { type: 'CompensationStarted', queue: ['a'] }, { type: 'CompensationDispatched', step: 'a' }]);
  // A late success of the wait's event changes nothing: nothing to undo.
  const late = decided(decide(def, d.state, { type: 'EventReceived', subject: 'w.events', message: { eventId: 'go-2', eventType: 'Go', correlationId: 'c', causationId: '', aggregateId: 'x', version: 1, payload: {} } }, env(4)));
  t.equal(late.ignored, 'late');
});
