/**
 * The `forEach` block of a command step, compiled: defaults, bounds, where it may stand, and
 * what its expressions may read. The behaviour itself is in the golden traces (test/core/golden/24-30).
 */
import t from 'tap';
import { commandYaml, errorsOf, positionOf, sagaOf, sagaYaml } from './fixtures/saga-yaml.js';

const forEach = (block: string): string => `forEach: ${block}`;

t.test('a forEach step compiles to a stage with the step it runs; maxConcurrency 1 and maxItems 1000 by default', async (t) => {
  const saga = sagaOf(sagaYaml([
    commandYaml('first'),
    commandYaml('each', { extra: `${forEach('{ items: "{% $input.lines %}" }')}\nwhen: "{% $input.go %}"`, payload: '{ sku: "{% $item.sku %}", n: "{% $index %}" }', undoPayload: '{ id: "{% $steps.each.id %}" }' }),
    commandYaml('after', { payload: '{ ids: "{% $steps.each.id %}" }' }),
  ].join('\n')));
  const stage = saga.stages[1];
  if (stage?.kind !== 'forEach') throw new Error(`stage 1 is ${stage?.kind}`);
  t.match(stage, { kind: 'forEach', name: 'each', maxConcurrency: 1, maxItems: 1000, items: { source: '$input.lines' }, when: { source: '$input.go' } });
  t.match(stage.step, { kind: 'command', name: 'each', when: null, pivot: false, afterPivot: false, compensate: { command: { type: 'Undo' } } });
  t.equal(stage.step.command.payload.kind, 'object');
});

t.test('maxConcurrency and maxItems are taken as written, within the schema bounds', async (t) => {
  const saga = sagaOf(sagaYaml(commandYaml('each', { extra: forEach('{ items: "{% $input.lines %}", maxConcurrency: 8, maxItems: 50 }') })));
  t.match(saga.stages[0], { kind: 'forEach', maxConcurrency: 8, maxItems: 50 });
  for (const bad of ['maxConcurrency: 0', 'maxItems: 0', 'maxItems: 10001', 'maxConcurrency: 1001', 'maxItems: 2.5', 'size: 3']) {
    const text = sagaYaml(commandYaml('each', { extra: forEach(`{ items: "{% $input.lines %}", ${bad} }`) }));
    t.ok(errorsOf(text).some((e) => e.path.startsWith('sagas[0].steps[0].forEach')), `${bad} is refused at the forEach block`);
  }
  t.ok(errorsOf(sagaYaml(commandYaml('each', { extra: forEach('{ maxConcurrency: 2 }') }))).length > 0, 'items is required');
  t.ok(errorsOf(sagaYaml(commandYaml('each', { extra: forEach('{ items: "$input.lines" }') }))).length > 0, 'items must be an expression');
});

t.test('a forEach step inside a parallel group is refused, where it is written', async (t) => {
  const text = sagaYaml([
    '      - name: group',
    '        parallel:',
    '          -',
    commandYaml('each', { indent: 12, extra: forEach('{ items: "{% $input.lines %}" }') }),
    '          -',
    commandYaml('other', { indent: 12 }),
  ].join('\n'));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, { ...positionOf(text, 'forEach:'), path: 'sagas[0].steps[0].parallel[0][0].forEach', message: 'step `each` is inside parallel group `group`, so it cannot run forEach' });
});

t.test('a forEach step cannot be the pivot', async (t) => {
  const text = sagaYaml(commandYaml('each', { compensate: false, extra: `${forEach('{ items: "{% $input.lines %}" }')}\npivot: true` }));
  const errors = errorsOf(text);
  t.match(errors, [{ path: 'sagas[0].steps[0].pivot', message: 'step `each` runs forEach, so it cannot be the pivot' }]);
});

t.test('items may read earlier steps only; the step reads its own result only in its compensation', async (t) => {
  const later = errorsOf(sagaYaml([
    commandYaml('each', { extra: forEach('{ items: "{% $steps.after.lines %}" }') }),
    commandYaml('after'),
  ].join('\n')));
  t.match(later, [{ path: 'sagas[0].steps[0].forEach.items', message: 'forEach.items refers to `after`, which comes later' }]);
  const self = errorsOf(sagaYaml(commandYaml('each', { extra: forEach('{ items: "{% $steps.each %}" }') })));
  t.match(self, [{ path: 'sagas[0].steps[0].forEach.items', message: 'forEach.items refers to `each` itself, which has no result yet' }]);
});

t.test('a forEach step after the pivot retries until it succeeds and has no compensation', async (t) => {
  const saga = sagaOf(sagaYaml([
    commandYaml('pivot', { compensate: false, extra: 'pivot: true' }),
    commandYaml('each', { compensate: false, extra: forEach('{ items: "{% $input.lines %}" }') }),
  ].join('\n')));
  t.match(saga.stages[1], { kind: 'forEach', step: { afterPivot: true, retry: { maxAttempts: null }, compensate: null } });
});
