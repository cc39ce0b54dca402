/**
 * What the templates of a forEach group's steps see: `$item`, `$index`, and as `$steps.<step>`
 * the results of their own element's steps only; outside the group, no element's step is in
 * `$steps`, and the group's own result is the array of per-element objects.
 */
import t from 'tap';
import { elementLeaf, evolve, groupStepName, parseElement, parseGroupStep, scopeFor, scopeOf, type InstanceState, type SagaEvent } from '../../engine/core/index.js';
import { saga } from './sim-sagas.js';

const ok = (step: string, at: number, output: unknown): SagaEvent => ({ type: 'StepSucceeded', at, step, replyId: `r-${step}`, output, pivot: false });
const events: SagaEvent[] = [
  { type: 'SagaStarted', at: 0, instanceId: 'i1', saga: 'group', definitionHash: 'h', key: 'k', correlationId: 'c', input: { orderId: 'o1' }, event: null, deadlineAt: null },
  ok('charge', 1, { id: 'pay' }),
  { type: 'ForEachStarted', at: 2, step: 'lines', items: [{ sku: 'a' }, { sku: 'b' }] },
  ok('lines[0].reserve', 3, { id: 'r-a' }),
  ok('lines[1].reserve', 4, { id: 'r-b' }),
  ok('lines[1].pick', 5, { id: 'p-b' }),
];
const state = events.reduce<InstanceState | undefined>((s, e) => evolve(s, e), undefined) as InstanceState;

t.test("a group step sees its element, its index and its element's earlier results only", async (t) => {
  const pick0 = scopeFor(state, 'lines[0].pick');
  t.same(pick0.steps, { charge: { id: 'pay' }, reserve: { id: 'r-a' } }, "element 0's pick sees element 0's reserve, not element 1's");
  t.same([pick0.item, pick0.index], [{ sku: 'a' }, 0]);
  const pick1 = scopeFor(state, 'lines[1].pick');
  t.same(pick1.steps, { charge: { id: 'pay' }, reserve: { id: 'r-b' }, pick: { id: 'p-b' } }, 'a compensation reads its own result');
  t.same([pick1.item, pick1.index], [{ sku: 'b' }, 1]);
  t.same(scopeOf(state).steps, { charge: { id: 'pay' } }, 'outside the group no element step is in $steps');
});

t.test('group step names are parsed apart from single elements, and resolve to the group step', async (t) => {
  t.equal(groupStepName('lines', 2, 'pick'), 'lines[2].pick');
  t.same(parseGroupStep('lines[2].pick'), { stage: 'lines', index: 2, step: 'pick' });
  t.equal(parseGroupStep('lines[2]'), null);
  t.equal(parseGroupStep('lines[02].pick'), null);
  t.equal(parseElement('lines[2].pick'), null, 'a group step is no single element');
  const def = saga('group.yaml', 'group');
  t.match(elementLeaf(def, 'lines[1].pick'), { name: 'lines[1].pick', kind: 'command', command: { type: 'PickLine' }, when: { source: '$item.qty > 0' } });
  t.equal(elementLeaf(def, 'lines[1].pack'), undefined, 'a step the group does not have');
  t.equal(elementLeaf(def, 'lines[1]'), undefined, 'a group has no single elements');
  t.equal(elementLeaf(def, 'charge[0].pick'), undefined, 'a step that is no group');
});
