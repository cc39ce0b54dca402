import t from 'tap';
import { commandYaml, errorsOf, positionOf, sagaYaml, sagasOf } from './fixtures/saga-yaml.js';

/**
 * A saga or step named like a property every JavaScript object has is refused at load: the
 * name pattern lets `constructor` through, and a record of steps by name would find the
 * object's own function under it.
 */

const stepError = (name: string) => `step name \`${name}\` is reserved: every JavaScript object has a property of that name`;

t.test('a step named constructor is refused at its name, with its line', async (t) => {
  const text = sagaYaml([commandYaml('constructor'), commandYaml('ship', { compensate: false, extra: 'pivot: true' })].join('\n'));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, {
    ...positionOf(text, 'constructor'),
    path: 'sagas[0].steps[0].name',
    message: stepError('constructor'),
    hint: 'rename the step, for example to `constructor-step`',
  });
});

t.test('a step named constructor is refused in a parallel branch, in a forEach group, and as a delay, wait or saga step', async (t) => {
  const text = [
    'sagas:',
    '  - name: s',
    '    defaults: { timeout: 10s }',
    '    steps:',
    '      - name: both',
    '        parallel:',
    '          -',
    commandYaml('constructor', { indent: 12 }),
    '      - name: lines',
    '        forEach: { items: "{% $input.lines %}" }',
    '        steps:',
    commandYaml('constructor', { indent: 10 }),
    '',
  ].join('\n');
  const errors = errorsOf(text);
  t.match(errors.map((e) => [e.path, e.message]), [
    ['sagas[0].steps[0].parallel[0][0].name', stepError('constructor')],
    ['sagas[0].steps[1].steps[0].name', stepError('constructor')],
  ]);
  for (const step of ['delay: { for: 1s }', 'wait: { subject: a.events, type: Came }', 'saga: other']) {
    const one = sagaYaml(`      - name: constructor\n        ${step}\n${commandYaml('ship', { compensate: false, extra: 'pivot: true' })}`)
      + '  - name: other\n    steps:\n      - name: x\n        delay: { for: 1s }\n';
    t.match(errorsOf(one).map((e) => e.message), [stepError('constructor')], step);
  }
});

t.test('a saga named constructor is refused at its name', async (t) => {
  const text = sagaYaml(commandYaml('ship', { compensate: false, extra: 'pivot: true' })).replace('- name: s', '- name: constructor');
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, {
    ...positionOf(text, 'constructor'),
    path: 'sagas[0].name',
    message: 'saga name `constructor` is reserved: every JavaScript object has a property of that name',
    hint: 'rename the saga, for example to `constructor-saga`',
  });
});

t.test('names that only contain a reserved word load', async (t) => {
  const text = sagaYaml([commandYaml('constructor-step'), commandYaml('to-string', { compensate: false, extra: 'pivot: true' })].join('\n'))
    .replace('- name: s', '- name: constructors');
  t.same(sagasOf(text).map((s) => s.name), ['constructors']);
});
