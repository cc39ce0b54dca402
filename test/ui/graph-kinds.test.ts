/**
 * The console's definition graph for the newer step kinds, in Node: a forEach step is a loop
 * node saying what it runs over and how many at once, with its compensation; a forEach over a
 * group is a fork and a join in a box around its steps; a delay says how long it waits and has
 * no undo; a child saga step names (and links to) its child, whose own compensations undo it.
 * On an instance's page each node carries its step's state, a forEach its elements' progress.
 * The definitions are the shipped examples, loaded as sagad loads them; the group (whose
 * loader is another branch's) is built by hand.
 */
import t, { type Test } from 'tap';
import { definitionDetail } from '../../engine/api/definition-view.js';
import type { DefinitionDetail, StepDetail, StepDocument } from '../../engine/api/index.js';
import { formatDefinitionError, loadDefinitionsFile } from '../../engine/definitions/index.js';
import { graphOf, layoutDefinition, type Graph, type GraphNode } from '../../ui/src/graph.js';
import { undoNode } from '../../ui/src/graph-nodes.js';
import { elementsOf, nodeStatuses, overall, progressOf } from '../../ui/src/graph-state.js';

function example(file: string, saga: string): DefinitionDetail {
  const r = loadDefinitionsFile(file);
  if (!r.ok) throw new Error(r.errors.map(formatDefinitionError).join('\n'));
  const def = r.sagas.find((s) => s.name === saga);
  if (def === undefined) throw new Error(`${file} has no saga ${saga}`);
  return definitionDetail(def);
}
const bulk = example('sagas/bulk-shipment.yaml', 'bulk-shipment');
const delayed = example('sagas/delayed-reminder.yaml', 'delayed-reminder');
const trip = example('sagas/trip-with-child.yaml', 'trip-with-child');

const stepOf = (def: DefinitionDetail, name: string): StepDetail => {
  const s = def.steps.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no step ${name} in ${def.name}`);
  return s;
};
const nodeOf = (g: Graph, id: string): GraphNode => {
  const n = g.nodes.find((x) => x.id === id);
  if (n === undefined) throw new Error(`no node ${id}`);
  return n;
};
const undoEdges = (g: { edges: { kind: string; from: string; to: string }[] }) => g.edges.filter((e) => e.kind === 'undo').map((e) => `${e.from}->${e.to}`);
const nextEdges = (g: { edges: { kind: string; from: string; to: string }[] }) => g.edges.filter((e) => e.kind === 'next').map((e) => `${e.from}->${e.to}`);

/** Every undo edge ends on the box of the step it undoes. */
function undoEdgesEndOnTheirStep(t: Test, g: Graph): void {
  for (const e of g.edges.filter((x) => x.kind === 'undo')) {
    const to = nodeOf(g, e.to);
    const last = e.points.at(-1);
    if (last === undefined) throw new Error(`${e.from} is not routed`);
    t.ok(Math.abs(last.y - to.y) <= to.height / 2 + 1 && Math.abs(last.x - to.x) <= to.width / 2 + 1, `${e.from} ends on its step`);
  }
}

t.test('bulk-shipment: the forEach step is a loop node over $input.lines, four at once, and its compensation points back at it', async (t) => {
  const g = layoutDefinition(bulk);
  const loop = nodeOf(g, 'step:reserve-lines');
  t.equal(loop.kind, 'loop');
  t.equal(loop.note, 'for each $input.lines, ≤4 at once');
  t.match(loop.title, /at most 200 elements/, 'the tooltip names maxItems');
  t.same(g.nodes.filter((n) => n.step !== null && n.kind !== 'undo').map((n) => [n.step, n.kind]),
    [['reserve-lines', 'loop'], ['charge-payment', 'step'], ['ship-order', 'step']], 'a node per step, in order');
  t.same(undoEdges(g), ['undo:reserve-lines->step:reserve-lines', 'undo:charge-payment->step:charge-payment']);
  t.equal(nodeOf(g, 'undo:reserve-lines').label, 'undo: ReleaseInventory');
  t.match(nodeOf(g, 'undo:reserve-lines').title, /each element that may have taken effect, latest first/);
  t.ok(loop.width >= (loop.note ?? '').length * 7.2 * 0.88, 'the node is wide enough for its note');
  t.same(g.boxes, [], 'no box: a forEach of one step is one node');
  t.ok(g.edges.every((e) => e.points.length >= 2), 'every edge is routed');
  undoEdgesEndOnTheirStep(t, g);
  const one = graphOf({ ...bulk, steps: [{ ...stepOf(bulk, 'reserve-lines'), maxConcurrency: 1 }] }).nodes.find((n) => n.kind === 'loop');
  t.equal(one?.note, 'for each $input.lines, one at a time');
});

t.test('delayed-reminder: each delay says how long it waits and has no undo', async (t) => {
  const g = layoutDefinition(delayed);
  t.same(g.nodes.filter((n) => n.kind === 'delay').map((n) => [n.step, n.note]),
    [['cooling-off', 'waits 2d'], ['ship-day', 'waits until $input.shipAt']]);
  t.same(undoEdges(g), ['undo:reserve-inventory->step:reserve-inventory', 'undo:charge-payment->step:charge-payment'], 'nothing undoes a delay');
  t.same(nextEdges(g), ['start->step:reserve-inventory', 'step:reserve-inventory->step:cooling-off', 'step:cooling-off->step:ship-day',
    'step:ship-day->step:charge-payment', 'step:charge-payment->step:ship-order', 'step:ship-order->end'], 'in sequence');
  const steps = g.nodes.filter((n) => n.kind === 'step' || n.kind === 'delay');
  t.ok(steps.every((n, i) => i === 0 || n.y > (steps[i - 1]?.y ?? 0)), 'steps go down in order');
  t.equal(graphOf({ ...delayed, steps: [{ ...stepOf(delayed, 'cooling-off'), for: 90 * 60_000 }] }).nodes.find((n) => n.kind === 'delay')?.note, 'waits 1h30m');
});

t.test("trip-with-child: the saga step names its child and is undone by the child's own compensations", async (t) => {
  const g = layoutDefinition(trip);
  const child = nodeOf(g, 'step:book-stay');
  t.equal(child.kind, 'child');
  t.equal(child.child, 'book-stay', 'the node links to the child saga');
  t.equal(child.note, 'child saga book-stay');
  t.same(undoEdges(g), ['undo:take-deposit->step:take-deposit', 'undo:book-stay->step:book-stay']);
  const undo = nodeOf(g, 'undo:book-stay');
  t.equal(undo.label, "undo: child's compensations");
  t.match(undo.title, /the child saga book-stay undoes its done steps, latest first/);
  t.equal(nodeOf(g, 'step:issue-tickets').pivot, true);
  undoEdgesEndOnTheirStep(t, g);
  t.equal(undoNode({ ...stepOf(trip, 'book-stay'), afterPivot: true }), null, 'after the pivot nothing undoes a child saga step');
});

const reserve = { ...stepOf(delayed, 'reserve-inventory'), name: 'reserve' };
const pause = { ...stepOf(delayed, 'cooling-off'), name: 'pause' };
const stay = { ...stepOf(trip, 'book-stay'), name: 'stay' };
/** A forEach over a group, as the definition document gives it: a deposit, then reserve, pause and stay per line, two lines at once; then the charge. */
const grouped: DefinitionDetail = {
  ...delayed, name: 'per-line-order',
  steps: [
    stepOf(trip, 'take-deposit'),
    { name: 'per-line', kind: 'forEach', when: null, items: '{% $input.lines %}', maxConcurrency: 2, maxItems: 50, steps: [reserve, pause, stay] },
    stepOf(delayed, 'charge-payment'),
  ],
};

t.test('a forEach over a group: a fork "for each" heading a box of its steps in sequence and a join, each step with its undo', async (t) => {
  const g = layoutDefinition(grouped);
  const fork = nodeOf(g, 'fork:per-line');
  t.equal(fork.label, 'per-line');
  t.equal(fork.note, 'for each $input.lines, ≤2 at once');
  t.same(nextEdges(g), ['start->step:take-deposit', 'step:take-deposit->fork:per-line', 'fork:per-line->step:per-line[].reserve', 'step:per-line[].reserve->step:per-line[].pause',
    'step:per-line[].pause->step:per-line[].stay', 'step:per-line[].stay->join:per-line', 'join:per-line->step:charge-payment',
    'step:charge-payment->end']);
  t.same(g.nodes.filter((n) => n.loop === 'per-line' && n.kind !== 'undo').map((n) => [n.kind, n.label]),
    [['fork', 'per-line'], ['step', 'reserve'], ['delay', 'pause'], ['child', 'stay'], ['join', 'per-line done']], 'the inner steps by their own names');
  t.same(undoEdges(g), ['undo:take-deposit->step:take-deposit', 'undo:per-line[].reserve->step:per-line[].reserve', 'undo:per-line[].stay->step:per-line[].stay',
    'undo:charge-payment->step:charge-payment'],
    'the command and the child saga are undone, the delay is not');
  undoEdgesEndOnTheirStep(t, g);

  const [box, ...more] = g.boxes;
  if (box === undefined) throw new Error('no box drawn');
  t.same(more, [], 'one box');
  t.equal(box.loop, 'per-line');
  const inside = (n: GraphNode) => n.x - n.width / 2 >= box.x && n.x + n.width / 2 <= box.x + box.width && n.y - n.height / 2 >= box.y && n.y + n.height / 2 <= box.y + box.height;
  const overlaps = (n: GraphNode) => n.x + n.width / 2 > box.x && n.x - n.width / 2 < box.x + box.width && n.y + n.height / 2 > box.y && n.y - n.height / 2 < box.y + box.height;
  const members = g.nodes.filter((n) => n.loop === 'per-line' && n.kind !== 'fork');
  t.equal(members.length, 6, 'three steps, two compensations, the join');
  t.ok(members.every(inside), 'every one is in the box');
  t.same(g.nodes.filter((n) => n.loop === null && overlaps(n)).map((n) => n.id), [], 'no other node is in the box');
  t.ok(fork.y + fork.height / 2 <= box.y && fork.x > box.x && fork.x < box.x + box.width, 'the fork heads the box, just above it');
  t.notOk(overlaps(fork), 'outside it: the compensation of the step before the group is beside the fork');
  const inner = g.nodes.filter((n) => n.loop === 'per-line' && n.kind !== 'undo');
  t.ok(inner.every((n, i) => i === 0 || n.y > (inner[i - 1]?.y ?? 0)), 'fork, steps and join go down in order');
  t.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= g.width && box.y + box.height <= g.height, 'the box is within the drawing');
});

const doc = (name: string, state: string, compensation?: string, child?: string): StepDocument => ({
  name, state, attempts: state === 'pending' ? 0 : 1, startedAt: null, finishedAt: null, lastError: null,
  compensation: compensation === undefined ? null : { state: compensation, attempts: 1, lastError: null, startedAt: null, finishedAt: null },
  ...(child === undefined ? {} : { child }),
});

t.test("an instance's steps on the graph: the elements reserve-lines[i] are the forEach node's progress", async (t) => {
  const running = [
    doc('reserve-lines', 'running'), doc('reserve-lines[0]', 'succeeded'), doc('reserve-lines[1]', 'succeeded'),
    doc('reserve-lines[2]', 'running'), doc('reserve-lines[3]', 'succeeded'), doc('reserve-lines[4]', 'pending'),
    doc('charge-payment', 'pending'), doc('ship-order', 'pending'),
  ];
  const g = layoutDefinition(bulk, running);
  t.same(nodeOf(g, 'step:reserve-lines').status, { state: 'running', progress: '3 of 5 done', childInstance: null });
  t.same(nodeOf(g, 'step:charge-payment').status, { state: 'pending', progress: null, childInstance: null });
  t.equal(nodeOf(g, 'undo:reserve-lines').status, null, 'nothing compensated yet');
  t.equal(nodeOf(g, 'step:reserve-lines').height, 54, 'a third line for the progress');
  t.equal(nodeOf(layoutDefinition(bulk), 'step:reserve-lines').height, 40, 'two lines on the definition page');
  t.equal(nodeOf(layoutDefinition(bulk), 'step:reserve-lines').status, null, 'no state without an instance');

  const compensated = [
    doc('reserve-lines', 'failed'), doc('reserve-lines[0]', 'compensated', 'compensated'), doc('reserve-lines[1]', 'compensated', 'compensated'),
    doc('reserve-lines[2]', 'failed'), doc('charge-payment', 'pending'), doc('ship-order', 'pending'),
  ];
  const c = layoutDefinition(bulk, compensated);
  t.same(nodeOf(c, 'step:reserve-lines').status, { state: 'failed', progress: '2 of 3 done, 2 undone, 1 failed', childInstance: null });
  t.same(nodeOf(c, 'undo:reserve-lines').status, { state: 'compensated', progress: '2 of 2 undone', childInstance: null });

  const before = nodeStatuses(graphOf(bulk).nodes, [doc('reserve-lines', 'pending')]);
  t.same(before.get('step:reserve-lines'), { state: 'pending', progress: null, childInstance: null }, 'before its items are read: pending, no progress');
  const none = nodeStatuses(graphOf(bulk).nodes, [doc('reserve-lines', 'succeeded')]);
  t.same(none.get('step:reserve-lines'), { state: 'succeeded', progress: 'no elements', childInstance: null }, 'an empty array');
});

t.test('a child saga step on an instance: its state and the child instance it started', async (t) => {
  const g = layoutDefinition(trip, [doc('take-deposit', 'compensated', 'compensated'), doc('book-stay', 'compensating', 'running', 'i-1.book-stay.1'), doc('issue-tickets', 'failed')]);
  t.same(nodeOf(g, 'step:book-stay').status, { state: 'compensating', progress: null, childInstance: 'i-1.book-stay.1' });
  t.same(nodeOf(g, 'undo:book-stay').status, { state: 'running', progress: null, childInstance: null });
  t.same(nodeOf(g, 'undo:take-deposit').status?.state, 'compensated');
  t.same(nodeOf(g, 'step:issue-tickets').status?.state, 'failed');
});

t.test("an instance's elements per-line[i].s on a group: each step's elements, and the elements done on the fork", async (t) => {
  const steps = [
    doc('per-line', 'running'),
    doc('per-line[0].reserve', 'succeeded'), doc('per-line[0].pause', 'succeeded'), doc('per-line[0].stay', 'succeeded', undefined, 'i-2.per-line[0].stay.1'),
    doc('per-line[1].reserve', 'succeeded'), doc('per-line[1].pause', 'running'), doc('per-line[1].stay', 'pending'), doc('per-line[1].reserve-more', 'failed'),
    doc('per-line[2].reserve', 'succeeded'), doc('per-line[2].pause', 'succeeded'), doc('per-line[2].stay', 'skipped'),
    doc('charge-payment', 'pending'),
  ];
  const g = layoutDefinition(grouped, steps);
  t.same(nodeOf(g, 'fork:per-line').status, { state: 'running', progress: '2 of 3 done', childInstance: null },
    'elements 0 and 2 did each step (2 skipping stay), element 1 not yet');
  t.same(nodeOf(g, 'step:per-line[].reserve').status?.progress, '3 of 3 done');
  t.same(nodeOf(g, 'step:per-line[].pause').status, { state: 'running', progress: '2 of 3 done', childInstance: null });
  t.same(nodeOf(g, 'step:per-line[].stay').status, { state: 'running', progress: '1 of 3 done, 1 skipped', childInstance: null }, 'element 1 has not reached stay yet');
  t.same(elementsOf('per-line[].reserve', steps).map((s) => s.name), ['per-line[0].reserve', 'per-line[1].reserve', 'per-line[2].reserve'], 'reserve-more is another step');
  t.same(elementsOf('per-line', steps), [], 'a group has no element steps of its own name');
  t.same(elementsOf('reserve-lines', [doc('reserve-lines[10]', 'running'), doc('reserve-lines[2]', 'succeeded'), doc('reserve-linesx[1]', 'running')]).map((s) => s.name),
    ['reserve-lines[2]', 'reserve-lines[10]'], 'in element order, not by name');
  t.equal(nodeOf(g, 'join:per-line').status, null, 'the join says nothing');
});

t.test('the overall state of elements and their progress', async (t) => {
  t.equal(overall([], 'pending'), 'pending');
  t.equal(overall(['succeeded', 'succeeded'], 'running'), 'succeeded');
  t.equal(overall(['succeeded', 'pending'], 'pending'), 'running', 'some done, some not started');
  t.equal(overall(['succeeded', 'running', 'failed'], 'running'), 'failed', 'a failure shows first');
  t.equal(overall(['compensated', 'compensating'], 'failed'), 'compensating');
  t.equal(progressOf(['succeeded', 'timed_out', 'pending']), '1 of 3 done, 1 failed');
  t.equal(progressOf(['compensation_failed', 'compensated']), '2 of 2 done, 1 undone, 1 failed');
  t.equal(overall(['succeeded', 'skipped'], 'pending'), 'succeeded', 'a skipped element does not make the step look under way');
  t.equal(overall(['skipped', 'skipped'], 'pending'), 'skipped');
  t.equal(progressOf(['succeeded', 'skipped']), '1 of 2 done, 1 skipped');
});
