import fc from 'fast-check';
import t from 'tap';
import { decide, isRejection, start, type Decision, type InstanceState, type SagaInput } from '../../engine/core/index.js';
import { reply, saga, TestEnv } from '../store/fixtures/saga.js';

/**
 * Issue 13, item 4: a success that arrives after its step was given up may reopen a
 * `compensated` instance only within a window after the instance ended (the window comes in
 * as data with the reply, so the core stays pure). Within it, DESIGN section 1 point 3 holds
 * as before; after it the reply is ignored (`late_after_window`) and the instance stays as it
 * is; without a window (null), the old rule holds for ever.
 */
function step(env: TestEnv, state: InstanceState, input: SagaInput): InstanceState {
  const d = decide(saga, state, input, env);
  if (isRejection(d)) throw new Error(d.rejected.message);
  return d.state;
}

/** reserve succeeds, charge fails (its command is answered Nope), reserve is undone: compensated. */
function compensatedInstance(env: TestEnv): { state: InstanceState; chargeCommand: string } {
  let s = start(saga, { id: 'i-1', input: {}, key: null, correlationId: 'c-1', event: null, causationId: 'start' }, env).state;
  s = step(env, s, reply(s, 'reserve', 'Done', env));
  const chargeCommand = s.steps.charge?.awaiting ?? '';
  s = step(env, s, reply(s, 'charge', 'Nope', env));
  s = step(env, s, reply(s, 'reserve', 'Undone', env));
  if (s.status !== 'compensated') throw new Error(`expected compensated, got ${s.status}`);
  return { state: s, chargeCommand };
}

function lateSuccess(env: TestEnv, state: InstanceState, commandId: string, lateWindowMs: number | null): Decision {
  const d = decide(saga, state, {
    type: 'ReplyReceived', lateWindowMs,
    message: { eventId: env.newId(), eventType: 'Done', correlationId: state.correlationId, causationId: commandId, aggregateId: 'x', version: 1, payload: {} },
  }, env);
  if (isRejection(d)) throw new Error(d.rejected.message);
  return d;
}

t.test('within the window a late success reopens the instance to compensate its step', async (t) => {
  const env = new TestEnv();
  const { state, chargeCommand } = compensatedInstance(env);
  env.now = state.updatedAt + 60_000;
  const d = lateSuccess(env, state, chargeCommand, 60_000);
  t.equal(d.ignored, null);
  t.same(d.events.map((e) => e.type), ['LateSuccessRecorded', 'CompensationDispatched']);
  t.equal(d.state.status, 'compensating', 'reopened: the charge that happened after all is undone');
});

t.test('after the window it is ignored with its reason and the instance stays compensated', async (t) => {
  const env = new TestEnv();
  const { state, chargeCommand } = compensatedInstance(env);
  env.now = state.updatedAt + 60_001;
  const d = lateSuccess(env, state, chargeCommand, 60_000);
  t.equal(d.ignored, 'late_after_window');
  t.same(d.events, []);
  t.same(d.effects, []);
  t.equal(d.state, state, 'the very same state');
});

t.test('without a window the rule of DESIGN section 1 point 3 holds however late', async (t) => {
  const env = new TestEnv();
  const { state, chargeCommand } = compensatedInstance(env);
  env.now = state.updatedAt + 365 * 86_400_000;
  t.equal(lateSuccess(env, state, chargeCommand, null).state.status, 'compensating');
});

t.test('property: a late success reopens exactly when it arrives within the window', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 10 * 86_400_000 }), fc.integer({ min: 0, max: 10 * 86_400_000 }), (gap, window) => {
    const env = new TestEnv();
    const { state, chargeCommand } = compensatedInstance(env);
    env.now = state.updatedAt + gap;
    const d = lateSuccess(env, state, chargeCommand, window);
    const reopened = d.state.status === 'compensating';
    if (reopened !== (gap <= window)) throw new Error(`gap ${gap}, window ${window}: reopened ${reopened}`);
    if (!reopened && (d.ignored !== 'late_after_window' || d.events.length > 0)) throw new Error(`ignored ${String(d.ignored)}`);
  }), { numRuns: 300 });
  t.pass('300 gaps and windows');
});

t.test('the window does not touch a running or compensating instance', async (t) => {
  const env = new TestEnv();
  let s = start(saga, { id: 'i-2', input: {}, key: null, correlationId: 'c-2', event: null, causationId: 'start' }, env).state;
  const first = s.steps.reserve?.awaiting ?? '';
  env.now += 10 * 86_400_000;
  const d = lateSuccess(env, s, first, 0);
  t.equal(d.state.steps.reserve?.status, 'succeeded', 'a running step takes its success whatever the window');
  s = d.state;
  t.equal(s.status, 'running');
});
