/**
 * The console's pure parts, in Node: the timeline built from a journal, the definition graph
 * laid out by dagre, the hash routes, and the overview's figures.
 */
import t from 'tap';
import { definitionDetail } from '../../engine/api/definition-view.js';
import type { HistoryEntryDocument } from '../../engine/api/index.js';
import { countsByState, percentilePair } from '../../ui/src/figures.js';
import { graphOf, layoutDefinition } from '../../ui/src/graph.js';
import { sinceParam, untilParam } from '../../ui/src/since.js';
import { href, parseRoute, type Route } from '../../ui/src/router.js';
import { buildTimeline, stepOutputs, ticks } from '../../ui/src/timeline.js';
import { sagas } from '../api/store-engine.js';

const T0 = Date.UTC(2026, 10, 27, 8, 0, 0);
let seq = 0;
const ev = (ms: number, type: string, data: Record<string, unknown> = {}): HistoryEntryDocument =>
  ({ seq: ++seq, type, version: 1, at: new Date(T0 + ms).toISOString(), data: { at: T0 + ms, ...data } });

/** reserve ok, charge retried once then ok, ship rejected, then charge and reserve undone. */
const compensated = [
  ev(0, 'SagaStarted', { instanceId: 'i-1' }),
  ev(1, 'StepDispatched', { step: 'reserve', attempt: 1 }),
  ev(10, 'StepSucceeded', { step: 'reserve', output: { reservationId: 'r-1' } }),
  ev(11, 'StepDispatched', { step: 'charge', attempt: 1 }),
  ev(800, 'StepAttemptFailed', { step: 'charge', attempt: 1, error: 'attempt 1 timed out after 800ms' }),
  ev(900, 'StepDispatched', { step: 'charge', attempt: 2 }),
  ev(950, 'StepSucceeded', { step: 'charge', output: { paymentId: 'p-1' } }),
  ev(951, 'StepDispatched', { step: 'ship', attempt: 1 }),
  ev(990, 'StepFailed', { step: 'ship', error: 'reply ShipmentRejected', status: 'failed', outcome: 'failed' }),
  ev(990, 'CompensationStarted', { reason: { kind: 'step_failed', message: 'step ship failed' }, queue: ['charge', 'reserve'] }),
  ev(991, 'CompensationDispatched', { step: 'charge', attempt: 1 }),
  ev(1000, 'StepCompensated', { step: 'charge' }),
  ev(1001, 'CompensationDispatched', { step: 'reserve', attempt: 1 }),
  ev(1010, 'StepCompensated', { step: 'reserve' }),
  ev(1010, 'SagaCompensated'),
];

t.test('a compensated journal: the steps, then the compensations in reverse, on one axis', async (t) => {
  const tl = buildTimeline(compensated, T0 + 60_000);
  t.same(tl.lanes.map((l) => l.id), ['do:reserve', 'do:charge', 'do:ship', 'undo:charge', 'undo:reserve']);
  t.equal(tl.length, 1010, 'the axis ends with the saga, not at now');
  t.ok(tl.ended);
  const charge = tl.lanes[1]?.spans ?? [];
  t.same(charge.map((s) => [s.attempt, s.from, s.to, s.end]), [[1, 11, 800, 'retry'], [2, 900, 950, 'succeeded']], 'each attempt a span');
  t.match(charge[0]?.note, /timed out/);
  t.same(tl.lanes[2]?.spans.map((s) => s.end), ['failed']);
  t.same(tl.lanes.slice(3).map((l) => l.spans.map((s) => [s.from, s.end])), [[[991, 'compensated']], [[1001, 'compensated']]]);
  t.same(tl.marks.map((m) => m.label), ['compensation started: step ship failed', 'compensated']);
  t.same(stepOutputs(compensated), { reserve: { reservationId: 'r-1' }, charge: { paymentId: 'p-1' } });
});

t.test('a running journal: the attempt in flight runs to now', async (t) => {
  const running = compensated.slice(0, 4);
  const tl = buildTimeline(running, T0 + 5_000);
  t.notOk(tl.ended);
  t.equal(tl.length, 5_000);
  t.same(tl.lanes[1]?.spans.map((s) => [s.from, s.to, s.end]), [[11, 5_000, 'open']]);
  t.same(buildTimeline([], T0).lanes, [], 'an empty journal draws nothing');
});

t.test('skips, late successes and ends without an attempt in flight are marks', async (t) => {
  const tl = buildTimeline([
    ev(0, 'SagaStarted'), ev(5, 'StepSkipped', { step: 'car' }), ev(6, 'WaitStarted', { step: 'pay' }),
    ev(50, 'StepFailed', { step: 'pay', error: 'timed out', status: 'timed_out', outcome: 'unknown' }),
    ev(60, 'StepGivenUp', { step: 'pay', status: 'timed_out', outcome: 'unknown' }),
    ev(70, 'LateSuccessRecorded', { step: 'pay', output: { ok: true }, queue: null }),
  ], T0 + 100);
  t.same(tl.lanes.map((l) => [l.id, l.spans.map((s) => s.end), l.marks.map((m) => m.at)]), [
    ['do:car', [], [5]], ['do:pay', ['timed_out'], [60, 70]],
  ]);
});

t.test('axis ticks are round and cover the axis', async (t) => {
  t.same(ticks(1010), [0, 500, 1000]);
  t.same(ticks(34, 5), [0, 10, 20, 30]);
  t.same(ticks(1), [0, 1]);
});

const order = sagas.find((s) => s.name === 'order-fulfillment');
const trip = sagas.find((s) => s.name === 'trip-booking');

t.test('the graph of order-fulfillment: a node per step, the pivot marked, each undo pointing at its step', async (t) => {
  if (order === undefined) throw new Error('fixture missing');
  const g = layoutDefinition(definitionDetail(order));
  const steps = g.nodes.filter((n) => n.kind === 'step');
  t.same(steps.map((n) => n.step), ['reserve-inventory', 'charge-payment', 'ship-order']);
  t.same(g.nodes.filter((n) => n.pivot).map((n) => n.step), ['ship-order']);
  t.same(g.edges.filter((e) => e.kind === 'undo').map((e) => `${e.from}->${e.to}`),
    ['undo:reserve-inventory->step:reserve-inventory', 'undo:charge-payment->step:charge-payment']);
  // Laid out top to bottom: each step below the one before it, and every edge has points.
  t.ok(steps.every((n, i) => i === 0 || n.y > (steps[i - 1]?.y ?? 0)), 'steps go down in order');
  t.ok(g.edges.every((e) => e.points.length >= 2), 'every edge is routed');
  // An undo edge ends at its step: its last point lies on the step's box.
  for (const e of g.edges.filter((x) => x.kind === 'undo')) {
    const to = g.nodes.find((n) => n.id === e.to);
    const last = e.points.at(-1);
    if (to === undefined || last === undefined) throw new Error('missing');
    t.ok(Math.abs(last.y - to.y) <= to.height / 2 + 1 && Math.abs(last.x - to.x) <= to.width / 2 + 1, `${e.from} ends on its step`);
  }
  t.ok(g.width > 0 && g.height > 0);
});

t.test('the graph of trip-booking: a parallel group forks and joins, a condition labels its edge', async (t) => {
  if (trip === undefined) throw new Error('fixture missing');
  const { nodes, edges } = graphOf(definitionDetail(trip));
  const fork = nodes.find((n) => n.kind === 'fork');
  const join = nodes.find((n) => n.kind === 'join');
  if (fork === undefined || join === undefined) throw new Error('no parallel group drawn');
  const branches = edges.filter((e) => e.from === fork.id).map((e) => e.to);
  t.equal(branches.length, 2, 'two branches leave the fork');
  t.same(edges.filter((e) => e.to === join.id).length, 2, 'and meet at the join');
  const conditional = nodes.find((n) => n.when !== null && n.kind === 'step');
  t.ok(conditional, 'a step with a condition');
  t.match(edges.find((e) => e.to === conditional?.id)?.label, /^when /);
  const leafCount = definitionDetail(trip).steps.flatMap((s) => (s.kind === 'parallel' ? (s.branches ?? []).flat() : [s])).length;
  t.equal(nodes.filter((n) => n.kind === 'step' || n.kind === 'wait').length, leafCount, 'a node per step');
});

t.test('hash routes round-trip', async (t) => {
  const routes: Route[] = [
    { page: 'overview' }, { page: 'instances', query: { saga: 'a', state: 'failed' } }, { page: 'instance', id: 'id/with?odd#chars' },
    { page: 'definitions' }, { page: 'definition', name: 'trip-booking', hash: 'abcdef0123' }, { page: 'definition', name: 'x', hash: null },
    { page: 'dlq' }, { page: 'letter', id: 'l-1' },
  ];
  for (const r of routes) t.same(parseRoute(href(r)), r, href(r));
  t.same(parseRoute(''), { page: 'overview' });
  t.same(parseRoute('#/instances?state=&key=k'), { page: 'instances', query: { key: 'k' } }, 'empty filters are dropped');
  t.same(parseRoute('#/nowhere/x'), { page: 'not-found', path: '/nowhere/x' });
});

t.test('the list turns a since preset or a local time into the API time', async (t) => {
  const now = Date.UTC(2026, 10, 27, 12, 0, 0);
  t.equal(sinceParam('1h', now), '2026-11-27T11:00:00.000Z');
  t.equal(sinceParam('', now), undefined);
  t.equal(untilParam('2026-11-27T11:30:00Z'), '2026-11-27T11:30:00.000Z', 'until: a time as the API wants it');
  t.equal(untilParam(''), undefined);
  t.equal(untilParam('not a time'), undefined);
  t.equal(sinceParam('not a time', now), undefined);
  t.equal(sinceParam('2026-11-27T10:30:00Z', now), '2026-11-27T10:30:00.000Z');
});

t.test('overview figures: saga-time pairs, counts by state', async (t) => {
  const ms = (n: number) => `${n}ms`;
  t.equal(percentilePair({ count: 3, p50: 120, p99: 4000 }, ms), '120ms / 4000ms');
  t.equal(percentilePair({ count: 0, p50: null, p99: null }, ms), '–', 'a dash without finished instances');
  const stats = { instances: [{ saga: 'a', state: 'completed', count: 3 }, { saga: 'b', state: 'completed', count: 2 }, { saga: 'b', state: 'failed', count: 1 }], timersPending: 0, outboxBacklog: 0, deadLetters: 0, consumerLag: 0 };
  t.same(countsByState(stats), { byState: { completed: 5, failed: 1 }, total: 6 });
  t.same(countsByState(stats, 'b'), { byState: { completed: 2, failed: 1 }, total: 3 });
});
