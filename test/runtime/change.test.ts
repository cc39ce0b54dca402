import t from 'tap';
import { decide, isRejection, start, type Decision, type InstanceState, type SagaInput } from '../../engine/core/index.js';
import { changeOf, earliestTimer } from '../../engine/runtime/change.js';
import { parseEnvelope } from '../../engine/transport/envelope.js';
import { loadFixture, testEnv } from '../core/harness.js';
import { sagaOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * What one decision writes (engine/runtime/change.ts), from real decisions of the core: the
 * outbox rows in effect order, the timers to arm and to cancel, the command index that routes
 * replies, and the wait rows that route events (DESIGN section 1, points 4 to 6).
 */
const gate = loadFixture('gate.yaml').gate!;
const trip = loadFixture('trip.yaml').trip!;
const counter = { n: 0 };
const env = (now: number) => testEnv(now, counter);

function decided(d: ReturnType<typeof decide>): Decision {
  if (isRejection(d)) throw new Error(d.rejected.message);
  return d;
}

function reply(state: InstanceState, step: string, eventType: string): SagaInput {
  const cmds = state.steps[step]?.commands ?? [];
  return { type: 'ReplyReceived', message: { eventId: `r-${step}`, eventType, correlationId: 'c', causationId: cmds[cmds.length - 1] ?? 'none', aggregateId: 'a', version: 1, payload: {} } };
}

const subjects = (c: ReturnType<typeof changeOf>) => c?.outbox.map((r) => r.subject);

t.test('an ignored input writes no change', async (t) => {
  counter.n = 0;
  const s = start(gate, { id: 'g-1', input: { n: 1, extras: 0, b: 0, v: 1 }, key: null, correlationId: 'c', event: null, causationId: 'r' }, env(0));
  const d = decided(decide(gate, s.state, { type: 'TimerFired', timer: { kind: 'retry', step: 'prepare', attempt: 1 } }, env(1)));
  t.equal(d.ignored, 'stale');
  t.equal(changeOf(gate, s.state, d), null);
});

t.test('a start: version 0, every outbox row in effect order, its timers and its commands', async (t) => {
  counter.n = 0;
  const d = start(trip, { id: 't-1', input: { tripId: 'x' }, key: null, correlationId: 'c', event: null, causationId: 'r' }, env(0));
  const c = changeOf(trip, undefined, d);
  t.ok(c);
  t.equal(c!.expectedVersion, 0);
  t.equal(c!.state, d.state);
  t.equal(c!.events, d.events);
  t.same(subjects(c), ['sagas.events', 'flights.commands', 'hotels.commands'], 'lifecycle first, then the commands as the core emitted them');
  t.same(c!.outbox.map((r) => r.messageId), ['m1', 'm2', 'm3']);
  const env2 = parseEnvelope(c!.outbox[1]!.data);
  t.match(env2, { ok: true, envelope: { eventType: 'BookFlight', payload: { trip: 'x' } } });
  t.same(c!.timers, {
    put: [
      { timerId: 'deadline', dueAt: 7_200_000, data: { kind: 'deadline' } },
      { timerId: 'attempt_timeout:book-flight:1', dueAt: 10_000, data: { kind: 'attempt_timeout', step: 'book-flight', attempt: 1 } },
      { timerId: 'attempt_timeout:book-hotel:1', dueAt: 10_000, data: { kind: 'attempt_timeout', step: 'book-hotel', attempt: 1 } },
    ],
    cancel: [],
  });
  t.same(c!.commands, [
    { commandId: 'm2', step: 'book-flight', kind: 'do' },
    { commandId: 'm3', step: 'book-hotel', kind: 'do' },
  ]);
  t.same(c!.waits, { put: [], remove: [] }, 'no wait step was touched');
  t.equal(earliestTimer([c!]), 10_000);
});

t.test('a wait that starts is put, and removed when its event comes', async (t) => {
  counter.n = 0;
  const s0 = start(gate, { id: 'g-2', input: { n: 1, extras: 0, b: 0, v: 1 }, key: null, correlationId: 'corr', event: null, causationId: 'r' }, env(0));
  const s1 = decided(decide(gate, s0.state, reply(s0.state, 'prepare', 'Prepared'), env(1)));
  const c1 = changeOf(gate, s0.state, s1);
  t.equal(c1?.expectedVersion, s0.state.version);
  t.same(c1?.waits, { put: [{ step: 'await-ok', subject: 'g.events', type: 'Approved', correlationId: 'corr' }], remove: [] },
    'without `match`: found by the instance\'s correlation id');
  t.same(c1?.timers, { put: [], cancel: ['attempt_timeout:prepare:1'] });
  t.same(c1?.outbox, [], 'nothing to publish');
  t.same(c1?.commands, []);
  t.equal(earliestTimer([c1!]), null, 'a change that arms nothing');
  const ev: SagaInput = { type: 'EventReceived', subject: 'g.events', message: { eventId: 'e', eventType: 'Approved', correlationId: 'corr', causationId: '', aggregateId: 'a', version: 1, payload: {} } };
  const s2 = decided(decide(gate, s1.state, ev, env(2)));
  const c2 = changeOf(gate, s1.state, s2);
  t.same(c2?.waits, { put: [], remove: ['await-ok'] });
  t.same(c2?.commands.map((x) => x.step), ['commit']);
});

t.test('a cancel while waiting removes the wait and sends the undo as an undo command', async (t) => {
  counter.n = 0;
  const s0 = start(gate, { id: 'g-3', input: { n: 1, extras: 0, b: 0, v: 1 }, key: null, correlationId: 'c', event: null, causationId: 'r' }, env(0));
  const s1 = decided(decide(gate, s0.state, reply(s0.state, 'prepare', 'Prepared'), env(1)));
  const s2 = decided(decide(gate, s1.state, { type: 'CancelRequested', reason: '' }, env(2)));
  const c = changeOf(gate, s1.state, s2);
  t.same(c?.waits, { put: [], remove: ['await-ok'] });
  t.same(c?.commands, [{ commandId: s2.state.steps.prepare?.compensation?.commands[0], step: 'prepare', kind: 'undo' }]);
  t.same(c?.timers.cancel, ['wait_timeout:await-ok']);
});

t.test('compensation starting or the saga failing settles every wait step, even one the decision did not touch', async (t) => {
  counter.n = 0;
  // The group's when fails: extra-a fails and prepare is compensated; await-ok never started.
  const s0 = start(gate, { id: 'g-4', input: { n: 1, extras: 'x', b: 0, v: 1 }, key: null, correlationId: 'c', event: null, causationId: 'r' }, env(0));
  const s1 = decided(decide(gate, s0.state, reply(s0.state, 'prepare', 'Prepared'), env(1)));
  t.match(s1.events.map((e) => e.type), ['StepSucceeded', 'StepFailed', 'CompensationStarted', 'CompensationDispatched']);
  t.same(changeOf(gate, s0.state, s1)?.waits, { put: [], remove: ['await-ok'] });
  // After the pivot the next step fails: SagaFailed.
  const f0 = start(gate, { id: 'g-5', input: { n: 1, extras: 0, b: 0, v: 'x' }, key: null, correlationId: 'c', event: null, causationId: 'r' }, env(0));
  const f1 = decided(decide(gate, f0.state, reply(f0.state, 'prepare', 'Prepared'), env(1)));
  const f2 = decided(decide(gate, f1.state, { type: 'EventReceived', subject: 'g.events', message: { eventId: 'e', eventType: 'Approved', correlationId: 'c', causationId: '', aggregateId: 'a', version: 1, payload: {} } }, env(2)));
  const f3 = decided(decide(gate, f2.state, reply(f2.state, 'commit', 'Committed'), env(3)));
  t.match(f3.events.map((e) => e.type), ['StepSucceeded', 'StepFailed', 'SagaFailed']);
  t.same(changeOf(gate, f2.state, f3)?.waits, { put: [], remove: ['await-ok'] });
  t.same(changeOf(gate, f1.state, f2)?.waits, { put: [], remove: ['await-ok'] }, 'the matched wait itself is removed');
});

t.test('timers follow the effects in order: cancelled after being armed is not armed; armed after its cancel is', async (t) => {
  counter.n = 0;
  const s = start(gate, { id: 'g-6', input: { n: 1, extras: 0, b: 0, v: 1 }, key: null, correlationId: 'c', event: null, causationId: 'r' }, env(0));
  const ref = { kind: 'retry', step: 'prepare', attempt: 1 } as const;
  const base = { state: s.state, events: s.events, ignored: null };
  const armedThenCancelled: Decision = { ...base, effects: [
    { type: 'ScheduleTimer', timerId: 'retry:prepare:1', dueAt: 5, timer: ref },
    { type: 'CancelTimer', timerId: 'retry:prepare:1' },
  ] };
  t.same(changeOf(gate, undefined, armedThenCancelled)?.timers, { put: [], cancel: ['retry:prepare:1'] });
  const cancelledThenArmed: Decision = { ...base, effects: [
    { type: 'CancelTimer', timerId: 'retry:prepare:1' },
    { type: 'ScheduleTimer', timerId: 'retry:prepare:1', dueAt: 7, timer: ref },
  ] };
  t.same(changeOf(gate, undefined, cancelledThenArmed)?.timers, { put: [{ timerId: 'retry:prepare:1', dueAt: 7, data: ref }], cancel: [] });
  const armedTwice: Decision = { ...base, effects: [
    { type: 'ScheduleTimer', timerId: 'retry:prepare:1', dueAt: 5, timer: ref },
    { type: 'ScheduleTimer', timerId: 'retry:prepare:1', dueAt: 9, timer: ref },
  ] };
  t.same(changeOf(gate, undefined, armedTwice)?.timers.put, [{ timerId: 'retry:prepare:1', dueAt: 9, data: ref }], 'the later arming wins');
});

t.test('the earliest timer over several changes', async (t) => {
  const change = (dues: number[]) => ({
    expectedVersion: 0, state: {} as InstanceState, events: [], outbox: [], commands: [], waits: { put: [], remove: [] },
    timers: { put: dues.map((dueAt, i) => ({ timerId: `t${i}`, dueAt, data: { kind: 'deadline' } as const })), cancel: [] },
  });
  t.equal(earliestTimer([]), null);
  t.equal(earliestTimer([change([])]), null);
  t.equal(earliestTimer([change([30, 20]), change([]), change([25, 40])]), 20);
  t.equal(earliestTimer([change([50]), change([10])]), 10);
});

t.test('a wait still running when the saga fails after the pivot is no longer awaited', async (t) => {
  counter.n = 0;
  // After the pivot, a group: a wait starts in one branch, the other branch's payload cannot be built.
  const late = sagaOf(`
version: 1
sagas:
  - name: late
    defaults: { timeout: 10s }
    steps:
      - name: go
        pivot: true
        command: { subject: l.commands, type: Go, payload: {} }
        reply: { subject: l.events, success: [Gone] }
      - name: after
        parallel:
          - - name: watch
              wait: { subject: l.events, type: Seen }
          - - name: bad
              command: { subject: l.commands, type: Bad, payload: { n: "{% $number($input.n) %}" } }
              reply: { subject: l.events, success: [Ok] }
`);
  const s0 = start(late, { id: 'l-1', input: { n: 'x' }, key: null, correlationId: 'c', event: null, causationId: 'r' }, env(0));
  const s1 = decided(decide(late, s0.state, reply(s0.state, 'go', 'Gone'), env(1)));
  t.same(s1.events.map((e) => e.type), ['StepSucceeded', 'WaitStarted', 'StepFailed', 'SagaFailed']);
  t.equal(s1.state.steps.watch?.status, 'running', 'the wait step itself still says running');
  t.same(changeOf(late, s0.state, s1)?.waits, { put: [], remove: ['watch'] }, 'but the failed instance awaits nothing');
});

t.test('a wait with `match` is put without a correlation id: every event of its type is asked about', async (t) => {
  counter.n = 0;
  const matched = sagaOf(`
version: 1
sagas:
  - name: matched
    defaults: { timeout: 10s }
    steps:
      - name: by-region
        wait: { subject: m.events, type: Shipped, match: "{% $.payload.region = 'eu' %}" }
      - name: by-correlation
        wait: { subject: m.events, type: Delivered }
`);
  const s0 = start(matched, { id: 'm-1', input: {}, key: null, correlationId: 'c-m', event: null, causationId: 'r' }, env(0));
  t.same(changeOf(matched, undefined, s0)?.waits.put, [{ step: 'by-region', subject: 'm.events', type: 'Shipped', correlationId: null }]);
  const ev: SagaInput = { type: 'EventReceived', subject: 'm.events', message: { eventId: 'e', eventType: 'Shipped', correlationId: 'other', causationId: '', aggregateId: 'a', version: 1, payload: { region: 'eu' } } };
  const s1 = decided(decide(matched, s0.state, ev, env(1)));
  t.same(changeOf(matched, s0.state, s1)?.waits, { put: [{ step: 'by-correlation', subject: 'm.events', type: 'Delivered', correlationId: 'c-m' }], remove: ['by-region'] },
    'taken by its match whatever its correlation id; the next wait by the instance\'s');
});
