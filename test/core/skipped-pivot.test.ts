/**
 * A pivot whose `when` skips it: the steps after it have no compensation, so the saga is past
 * its point of no return as if the pivot had succeeded. A cancel is refused, the saga deadline
 * no longer compensates, and a later step's failure leaves the instance `failed` for an
 * operator instead of refunding the charge while the shipment stands (DESIGN section 1).
 */
import t from 'tap';
import { decide, evolve, isRejection, start, type Decision, type InstanceState, type SagaEvent, type SagaInput } from '../../engine/core/index.js';
import { loadFixture, testEnv } from './harness.js';

const found = loadFixture('skipped-pivot.yaml').order;
if (found === undefined) throw new Error('skipped-pivot.yaml: no saga order');
const def = found;

/** The instance after `charge` succeeded, with `needsConfirm` and `parcels` as given; its journal and a way to feed it. */
function charged(needsConfirm: boolean, parcels = '1') {
  const counter = { n: 0 };
  let now = 0;
  const journal: SagaEvent[] = [];
  const first = start(def, { id: 'i1', input: { needsConfirm, parcels }, key: null, correlationId: 'c1', event: null, causationId: 'req1' }, testEnv(now, counter));
  if (isRejection(first)) throw new Error('start rejected');
  journal.push(...first.events);
  let state: InstanceState = first.state;
  const feed = (input: SagaInput): Decision | ReturnType<typeof decide> => {
    now += 10;
    const d = decide(def, state, input, testEnv(now, counter));
    if (!isRejection(d)) {
      journal.push(...d.events);
      state = d.state;
    }
    return d;
  };
  const reply = (step: string, type: string) => {
    const cmd = state.steps[step]?.awaiting;
    if (cmd === undefined || cmd === null) throw new Error(`${step} awaits no reply`);
    return feed({ type: 'ReplyReceived', message: { eventId: `r${++counter.n}`, eventType: type, correlationId: 'c1', causationId: cmd, aggregateId: 'i1', version: 1, payload: {} } });
  };
  reply('charge', 'Charged');
  return { state: () => state, journal, feed, reply };
}

t.test('a skipped pivot is passed: the saga cannot be cancelled and its deadline does not compensate', async (t) => {
  const r = charged(false);
  t.equal(r.state().steps.confirm?.status, 'skipped');
  t.equal(r.state().steps.ship?.status, 'running', 'ship is sent');
  t.equal(r.state().pastPivot, true, 'past the pivot');
  const cancel = r.feed({ type: 'CancelRequested', reason: 'changed my mind' });
  t.ok(isRejection(cancel) && cancel.rejected.code === 'SAGA_ERR_PAST_PIVOT', 'a cancel is refused');
  const deadline = r.feed({ type: 'TimerFired', timer: { kind: 'deadline' } });
  t.equal(isRejection(deadline) ? 'rejected' : deadline.ignored, 'stale', 'the deadline changes nothing');
  t.equal(r.state().status, 'running');
  t.notOk(r.state().steps.charge?.compensation, 'the charge is not refunded');
  t.same(r.journal.reduce<InstanceState | undefined>(evolve, undefined), r.state(), 'the journal alone gives the same state');
});

t.test('a step failing after a skipped pivot leaves the instance failed, nothing compensated', async (t) => {
  const r = charged(false, 'three');
  t.match(r.state().steps.ship?.lastError, /parcels|number/, 'ship cannot render its payload');
  t.equal(r.state().status, 'failed', 'failed for an operator, as after a pivot that succeeded');
  t.equal(r.state().compensation, null, 'no compensation began');
  t.notOk(r.journal.some((e) => e.type === 'CompensationStarted'), 'no refund of the charge');
});

t.test('a pivot that runs still decides: before its command is out the saga can be cancelled and compensates', async (t) => {
  const r = charged(true);
  t.equal(r.state().pastPivot, false, 'the pivot is in flight, not passed');
  r.reply('confirm', 'NotConfirmed');
  t.equal(r.state().status, 'compensating', 'its failure compensates the charge');
});

t.test('an instance journaled before a skipped pivot was recorded as passed is past it all the same', async (t) => {
  const r = charged(false);
  const older = r.journal.map((e) => (e.type === 'StepSkipped' ? { type: e.type, at: e.at, step: e.step } : e));
  const state = older.reduce<InstanceState | undefined>(evolve, undefined);
  if (state === undefined) throw new Error('no state');
  t.equal(state.pastPivot, false, 'the older journal does not say so');
  const cancel = decide(def, state, { type: 'CancelRequested', reason: 'changed my mind' }, testEnv(100, { n: 100 }));
  t.ok(isRejection(cancel) && cancel.rejected.code === 'SAGA_ERR_PAST_PIVOT', 'a cancel is refused');
  const deadline = decide(def, state, { type: 'TimerFired', timer: { kind: 'deadline' } }, testEnv(100, { n: 100 }));
  t.equal(isRejection(deadline) ? 'rejected' : deadline.ignored, 'stale', 'the deadline changes nothing');
});
