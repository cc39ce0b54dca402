/**
 * A forEach group after the pivot whose step fails for one element (its `when` cannot be
 * evaluated: here a range over the expression limit, standing in for a transient failure such
 * as the CPU-time limit under load) while another element's step is in flight. The instance
 * is `failed` and waits for an operator; meanwhile that other step's success is not taken (the
 * instance is not running) and its attempt timeout is stale. An operator's retry must leave no
 * step in flight that nothing will ever move: the in-flight step is sent again (same
 * idempotency key), and answering every command then completes the saga (DESIGN section 1:
 * `failed` never silently drops work).
 */
import t from 'tap';
import { decide, isRejection, start, type Decision, type Effect, type InstanceState, type SagaEvent, type SagaInput } from '../../engine/core/index.js';
import { setExpressionLimits } from '../../engine/definitions/expression-limits.js';
import { journalViolations } from '../e2e/judge.js';
import { loadFixture, testEnv } from './harness.js';

const def = loadFixture('group-tail.yaml').stamped;
if (def === undefined) throw new Error('group-tail.yaml: no saga stamped');

type Sent = Extract<Effect, { type: 'SendCommand' }>;

t.test('a retry after a group step failed past the pivot re-sends the steps still in flight and the saga completes', async (t) => {
  const counter = { n: 0 };
  let now = 0;
  const sent: Sent[] = [];
  const journal: SagaEvent[] = [];
  const take = (d: Decision | ReturnType<typeof decide>): Decision => {
    if (isRejection(d)) throw new Error(`rejected: ${d.rejected.message}`);
    journal.push(...d.events);
    for (const e of d.effects) if (e.type === 'SendCommand') sent.push(e);
    return d;
  };
  let state: InstanceState = take(start(def, { id: 'i1', input: { labels: [{ sku: 'a', n: 10 }, { sku: 'b', n: 10 }] }, key: null, correlationId: 'c1', event: null, causationId: 'req1' }, testEnv(now, counter))).state;
  const feed = (input: SagaInput): Decision => {
    now += 10;
    const d = take(decide(def, state, input, testEnv(now, counter)));
    state = d.state;
    return d;
  };
  const answered = new Set<string>();
  const reply = (cmd: string, type: string): Decision => {
    answered.add(cmd);
    return feed({ type: 'ReplyReceived', message: { eventId: `r${++counter.n}`, eventType: type, correlationId: 'c1', causationId: cmd, aggregateId: 'i1', version: 1, payload: {} } });
  };
  const success = (step: string, type: string): Decision => {
    const cmd = state.steps[step]?.awaiting;
    if (cmd === undefined || cmd === null) throw new Error(`${step} awaits no reply`);
    return reply(cmd, type);
  };

  success('ship', 'Shipped');
  t.same(['labels[0].print', 'labels[1].print'].map((s) => state.steps[s]?.status), ['running', 'running'], 'two labels are printing');
  setExpressionLimits({ timeoutMs: 60_000, maxItems: 5 });
  try {
    success('labels[0].print', 'LabelPrinted');
  } finally {
    setExpressionLimits({ timeoutMs: 60_000 });
  }
  t.equal(state.status, 'failed', "label 0's stamp could not evaluate its when: failed after the pivot");
  t.equal(state.steps['labels[0].stamp']?.status, 'failed');
  t.equal(success('labels[1].print', 'LabelPrinted').ignored, 'late', "label 1's print answers while the instance is failed: not taken");
  const fired = feed({ type: 'TimerFired', timer: { kind: 'attempt_timeout', step: 'labels[1].print', attempt: 1 } });
  t.equal(fired.ignored, 'stale', 'its attempt timeout fires while the instance is failed: stale');

  const before = sent.length;
  const retried = feed({ type: 'RetryRequested' });
  t.same(retried.events.filter((e) => e.type === 'StepAttemptFailed' || e.type === 'StepDispatched').map((e) => `${e.type} ${e.step}#${e.type === 'StepAttemptFailed' || e.type === 'StepDispatched' ? e.attempt : ''}`),
    ['StepAttemptFailed labels[1].print#1', 'StepDispatched labels[1].print#2', 'StepDispatched labels[0].stamp#1'],
    'the journal says why attempt 2 goes out: attempt 1 ended unanswered');
  t.equal(state.status, 'running');
  const resent = sent.slice(before).map((c) => `${c.step}#${c.command.headers['Saga-Attempt']}`).sort();
  t.same(resent, ['labels[0].stamp#1', 'labels[1].print#2'], "the retry re-sends label 1's print and stamps label 0");
  t.same(sent.filter((c) => c.step === 'labels[1].print').map((c) => c.command.headers['Idempotency-Key']), ['i1/labels[1].print/do', 'i1/labels[1].print/do'], 'the same idempotency key');

  // The participants answer every command they have not answered yet, once, until none is left.
  for (let i = 0; i < 10 && state.status === 'running'; i++) {
    const open = sent.find((c) => !answered.has(c.command.eventId));
    if (open === undefined) break;
    reply(open.command.eventId, open.command.eventType === 'PrintLabel' ? 'LabelPrinted' : 'LabelStamped');
  }
  const history = journal.map(({ type, ...data }, seq) => ({ seq, type, data }));
  t.same(journalViolations(history), [], 'the journal sends nothing against its own knowledge (the end-to-end judge)');
  t.equal(state.status, 'completed', `the saga completes (${JSON.stringify(Object.fromEntries(Object.entries(state.steps).map(([n, s]) => [n, s.status])))})`);
});
