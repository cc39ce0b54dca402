/**
 * A parallel stage after the pivot whose command step fails (its `when` cannot be evaluated:
 * a range over the expression limit, standing in for a transient failure such as the CPU-time
 * limit under load) while a wait step and a delay run beside it. The instance is `failed` and
 * waits for an operator; meanwhile the wait's event is not taken and the delay's timer fires
 * stale. An operator's retry must leave no step that nothing will ever move: the delay's timer
 * is armed again, the wait still waits (the runtime offers it the event it kept:
 * test/runtime/failed-waits.test.ts), and the saga then completes (DESIGN section 1: `failed`
 * never silently drops work).
 */
import t from 'tap';
import { decide, isRejection, start, type Decision, type Effect, type InstanceState, type SagaEvent, type SagaInput } from '../../engine/core/index.js';
import { setExpressionLimits } from '../../engine/definitions/expression-limits.js';
import { journalViolations } from '../e2e/judge.js';
import { loadFixture, testEnv } from './harness.js';

const def = loadFixture('after-pivot-parallel.yaml').settle;
if (def === undefined) throw new Error('after-pivot-parallel.yaml: no saga settle');

const HOUR = 3_600_000;

t.test('a retry after a failure past the pivot re-arms the delays in flight, the waits still wait, and the saga completes', async (t) => {
  const counter = { n: 0 };
  let now = 0;
  const journal: SagaEvent[] = [];
  const effects: Effect[] = [];
  const take = (d: Decision | ReturnType<typeof decide>): Decision => {
    if (isRejection(d)) throw new Error(`rejected: ${d.rejected.message}`);
    journal.push(...d.events);
    effects.push(...d.effects);
    return d;
  };
  let state: InstanceState = take(start(def, { id: 'i1', input: { n: 10 }, key: null, correlationId: 'c1', event: null, causationId: 'req1' }, testEnv(now, counter))).state;
  const feed = (input: SagaInput, at = now + 10): Decision => {
    now = at;
    const d = take(decide(def, state, input, testEnv(now, counter)));
    state = d.state;
    return d;
  };
  const message = (eventType: string, causationId: string) =>
    ({ eventId: `r${++counter.n}`, eventType, correlationId: 'c1', causationId, aggregateId: 'i1', version: 1, payload: {} });
  const reply = (step: string, type: string): Decision => {
    const cmd = state.steps[step]?.awaiting;
    if (cmd === undefined || cmd === null) throw new Error(`${step} awaits no reply`);
    return feed({ type: 'ReplyReceived', message: message(type, cmd) });
  };
  const scheduled = (from: number) => effects.slice(from).flatMap((e) => (e.type === 'ScheduleTimer' ? [`${e.timer.kind} ${'step' in e.timer ? e.timer.step : ''} @${e.dueAt}`] : []));

  setExpressionLimits({ timeoutMs: 60_000, maxItems: 5 });
  try {
    reply('ship', 'Shipped');
  } finally {
    setExpressionLimits({ timeoutMs: 60_000 });
  }
  t.equal(state.status, 'failed', "the stamp's when could not be evaluated: failed after the pivot");
  t.same(['delivered', 'cool-off'].map((s) => state.steps[s]?.status), ['running', 'running'], 'the wait and the delay run beside it');
  const delayUntil = now + HOUR;
  t.equal(feed({ type: 'EventReceived', subject: 'shipping.events', message: message('Delivered', '') }).ignored, 'late', 'the delivery comes while the instance is failed: not taken');
  t.equal(feed({ type: 'TimerFired', timer: { kind: 'delay', step: 'cool-off' } }, delayUntil).ignored, 'stale', "the delay's timer fires while the instance is failed: stale");

  const before = effects.length;
  feed({ type: 'RetryRequested' }, delayUntil + 1_000);
  t.equal(state.status, 'running');
  t.same(scheduled(before), [`delay cool-off @${delayUntil + 1_000}`, `attempt_timeout stamp @${delayUntil + 1_000 + 5_000}`],
    'the delay is armed again (its time has passed: at once), beside the stamp\'s attempt');
  t.equal(state.steps.delivered?.status, 'running', 'the wait still waits');
  t.ok(effects.slice(before).some((e) => e.type === 'SendCommand' && e.step === 'stamp'), 'and the stamp is sent');

  feed({ type: 'TimerFired', timer: { kind: 'delay', step: 'cool-off' } });
  t.equal(state.steps['cool-off']?.status, 'succeeded', 'the delay ends');
  feed({ type: 'EventReceived', subject: 'shipping.events', message: message('Delivered', '') });
  t.equal(state.steps.delivered?.status, 'succeeded', 'the delivery, sent again, ends the wait');
  reply('stamp', 'NoteStamped');
  const history = journal.map(({ type, ...data }, seq) => ({ seq, type, data }));
  t.same(journalViolations(history), [], 'the journal sends nothing against its own knowledge (the end-to-end judge)');
  t.equal(state.status, 'completed');
});
