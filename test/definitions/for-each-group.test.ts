/**
 * A `forEach` group (`forEach` with `steps`), compiled: its steps, where it may stand, what
 * may sit in it, and what its expressions may read. The behaviour itself is in the golden
 * traces (test/core/golden/41-44) and the group property test.
 */
import t from 'tap';
import { inboundSubjectsOf, outboundSubjectsOf } from '../../engine/runtime/registry.js';
import { commandYaml, errorsOf, positionOf, sagaOf, sagaYaml } from './fixtures/saga-yaml.js';

/** A group `lines` over `$input.lines` with the given steps YAML (each indented by 10). */
function groupYaml(steps: string, extra = ''): string {
  return [
    '      - name: lines',
    '        forEach: { items: "{% $input.lines %}", maxConcurrency: 2 }',
    ...(extra === '' ? [] : [`        ${extra}`]),
    '        steps:',
    steps,
  ].join('\n');
}

t.test('a forEach group compiles to a stage with its steps in order, each with its own when; the stage names a failure of itself', async (t) => {
  const saga = sagaOf(sagaYaml([
    commandYaml('first'),
    groupYaml([
      commandYaml('reserve', { indent: 10, payload: '{ sku: "{% $item.sku %}", n: "{% $index %}", first: "{% $steps.first.id %}" }', undoPayload: '{ id: "{% $steps.reserve.id %}" }' }),
      commandYaml('pick', { indent: 10, extra: 'when: "{% $item.qty > 0 %}"', payload: '{ r: "{% $steps.reserve.id %}" }', undoPayload: '{ id: "{% $steps.pick.id %}" }' }),
    ].join('\n'), 'when: "{% $input.go %}"'),
    commandYaml('after', { payload: '{ picks: "{% $steps.lines.pick.id %}" }' }),
  ].join('\n')));
  const stage = saga.stages[1];
  if (stage?.kind !== 'forEach') throw new Error(`stage 1 is ${stage?.kind}`);
  t.match(stage, { kind: 'forEach', name: 'lines', maxConcurrency: 2, maxItems: 1000, items: { source: '$input.lines' }, when: { source: '$input.go' } });
  t.same(stage.steps?.map((l) => [l.name, l.when?.source ?? null, l.afterPivot]), [['reserve', null, false], ['pick', '$item.qty > 0', false]]);
  t.match(stage.step, { name: 'lines', when: null, command: { type: 'Do' } });
});

t.test('a wait, delay, saga step, parallel group, nested group, forEach or pivot in a group is refused where it is written, saying what to do', async (t) => {
  const cases: [string, string, string, RegExp][] = [
    ['          - name: w\n            wait: { subject: svc.events, type: Seen }', 'wait:', 'wait', /cannot wait for an event/],
    ['          - name: d\n            delay: { for: 1s }', 'delay:', 'delay', /cannot be a delay/],
    ['          - name: c\n            saga: other', 'saga:', 'saga', /cannot start a child saga/],
    [`          - name: p\n            parallel:\n              -\n${commandYaml('q', { indent: 16 })}`, 'parallel:', 'parallel', /cannot be a parallel group/],
    [`          - name: g\n            forEach: { items: "{% $item %}" }\n            steps:\n${commandYaml('q', { indent: 14 })}`, 'steps:\n' + ' '.repeat(14), 'steps', /cannot be a forEach group of its own/],
    [commandYaml('e', { indent: 10, extra: 'forEach: { items: "{% $item %}" }' }), 'forEach: { items: "{% $item', 'forEach', /cannot run forEach/],
    [commandYaml('v', { indent: 10, compensate: false, extra: 'pivot: true' }), 'pivot:', 'pivot', /cannot be the pivot/],
  ];
  for (const [inner, needle, key, message] of cases) {
    const text = sagaYaml(groupYaml([commandYaml('ok', { indent: 10 }), inner].join('\n')));
    const errors = errorsOf(text);
    const e = errors.find((x) => x.path === `sagas[0].steps[0].steps[1].${key}`);
    t.match(e, { message, hint: /top-level|nested|remove this forEach|point of no return/ }, `${key}: ${JSON.stringify(errors.map((x) => `${x.path}: ${x.message}`))}`);
    const at = positionOf(text, needle);
    t.equal(e?.line, at.line, `${key} is reported at its line`);
    t.equal(e?.file, 'defs.yaml');
  }
});

t.test("a group's step may not share a name with another step; a group may not sit in a parallel branch", async (t) => {
  const dup = errorsOf(sagaYaml([commandYaml('reserve'), groupYaml(commandYaml('reserve', { indent: 10 }))].join('\n')));
  t.match(dup, [{ path: 'sagas[0].steps[1].steps[0].name', message: 'step name `reserve` is used twice in saga `s`' }]);
  const nested = errorsOf(sagaYaml([
    '      - name: par',
    '        parallel:',
    '          -',
    '            - name: lines',
    '              forEach: { items: "{% $input.lines %}" }',
    '              steps:',
    commandYaml('x', { indent: 16 }),
  ].join('\n')));
  t.match(nested, [{ path: 'sagas[0].steps[0].parallel[0][0]', message: 'a forEach group cannot sit in a parallel branch' }]);
});

t.test("inside the group a step reads earlier steps of its element; outside, only the group's array", async (t) => {
  const later = errorsOf(sagaYaml(groupYaml([
    commandYaml('reserve', { indent: 10, payload: '{ p: "{% $steps.pick.id %}" }' }),
    commandYaml('pick', { indent: 10 }),
  ].join('\n'))));
  t.match(later, [{ path: 'sagas[0].steps[0].steps[0].command.payload.p', message: 'payload refers to `pick`, which comes later' }]);
  const own = errorsOf(sagaYaml(groupYaml(commandYaml('reserve', { indent: 10, payload: '{ p: "{% $steps.lines %}" }' }))));
  t.match(own, [{ message: 'payload refers to `lines`, the forEach group it runs in, which has no result until every element is done' }]);
  const outside = errorsOf(sagaYaml([groupYaml(commandYaml('reserve', { indent: 10 })), commandYaml('after', { payload: '{ r: "{% $steps.reserve.id %}" }' })].join('\n')));
  t.match(outside, [{ path: 'sagas[0].steps[1].command.payload.r', message: 'payload refers to `reserve`, a step of forEach group `lines`, whose results exist per element', hint: /\$steps\.`lines`\[i\]\.reserve/ }]);
});

t.test('a group after the pivot: its steps retry until they succeed and may not have a compensation', async (t) => {
  const saga = sagaOf(sagaYaml([
    commandYaml('pivot', { compensate: false, extra: 'pivot: true' }),
    groupYaml(commandYaml('label', { indent: 10, compensate: false })),
  ].join('\n')));
  t.match(saga.stages[1], { kind: 'forEach', steps: [{ name: 'label', afterPivot: true, retry: { maxAttempts: null }, compensate: null }] });
  const comp = errorsOf(sagaYaml([commandYaml('pivot', { compensate: false, extra: 'pivot: true' }), groupYaml(commandYaml('label', { indent: 10 }))].join('\n')));
  t.match(comp, [{ path: 'sagas[0].steps[1].steps[0].compensate', message: 'step `label` comes after the pivot, so it is never compensated' }]);
});

t.test("sagad consumes the replies and publishes the commands of every step of a group, not only its first", async (t) => {
  const saga = sagaOf(sagaYaml(groupYaml([
    commandYaml('reserve', { indent: 10 }),
    [
      '          - name: pick',
      '            command: { subject: warehouse.commands, type: Pick }',
      '            reply: { subject: warehouse.events, success: [Picked] }',
      '            compensate:',
      '              command: { subject: shelf.commands, type: Return }',
      '              reply: { subject: shelf.events, success: [Returned] }',
    ].join('\n'),
  ].join('\n'))));
  t.same(inboundSubjectsOf([saga]), ['shelf.events', 'svc.events', 'warehouse.events']);
  t.same(outboundSubjectsOf([saga]), ['sagas.events', 'shelf.commands', 'svc.commands', 'warehouse.commands']);
});
