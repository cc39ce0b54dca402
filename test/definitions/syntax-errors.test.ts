import t from 'tap';
import { formatDefinitionError } from '../../engine/definitions/index.js';
import { commandYaml, errorsOf, positionOf, sagaYaml } from './fixtures/saga-yaml.js';

t.test('a YAML syntax error is reported at its line', async (t) => {
  const text = 'sagas:\n  - name: s\n    steps: [\n  - name: x\n';
  const [e] = errorsOf(text);
  t.match(e, { file: 'defs.yaml', line: 4, path: '', message: /^YAML syntax error/ });
});

t.test('a duplicate YAML key is a syntax error', async (t) => {
  const text = 'sagas:\n  - name: s\n    name: t\n    steps: []\n';
  const [e] = errorsOf(text);
  t.match(e, { line: 3, message: /YAML syntax error/, hint: /once/ });
});

t.test('an expression left unquoted is a syntax error whose hint says to quote it', async (t) => {
  for (const text of ['sagas:\n  - name: s\n    start:\n      key: {% $input.id %}\n', 'sagas:\n  - name: s\n    start:\n      key: % $input.id\n']) {
    const [e, ...rest] = errorsOf(text);
    t.same(rest, []);
    t.match(e, { line: 4, message: /^YAML syntax error: .*character %/, hint: 'an expression is a string: put it in quotes, as in key: "{% $input.orderId %}"' });
  }
});

t.test('a duration that is a number or words explains how to write one', async (t) => {
  const text = sagaYaml(commandYaml('a', { extra: 'timeout: 5 seconds' }), '    timeout: 30');
  const errors = errorsOf(text);
  t.equal(errors.length, 2);
  t.match(errors[0], { ...positionOf(text, '30'), path: 'sagas[0].timeout', message: '`30` is not a duration', hint: 'write a duration like 500ms, 30s, 10m or 1h' });
  t.match(errors[1], { ...positionOf(text, '5 seconds'), path: 'sagas[0].steps[0].timeout', message: '`5 seconds` is not a duration' });
});

t.test('an unknown field suggests the field it is close to', async (t) => {
  const text = sagaYaml(commandYaml('a', { extra: 'tiemout: 5s' }));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, { ...positionOf(text, 'tiemout'), path: 'sagas[0].steps[0].tiemout', message: 'unknown field `tiemout`', hint: 'did you mean `timeout`?' });
  t.equal(formatDefinitionError(e!), `defs.yaml:${e!.line}:9: sagas[0].steps[0].tiemout: unknown field \`tiemout\`. Did you mean \`timeout\`?`);
});

t.test('an unknown field far from any lists the allowed fields', async (t) => {
  const text = sagaYaml(commandYaml('a'), '    colour: blue');
  const [e] = errorsOf(text);
  t.match(e, { ...positionOf(text, 'colour'), message: 'unknown field `colour`', hint: /the fields of a saga are `name`, `description`, `start`/ });
});

t.test('a misspelt command key is an unknown field, not a shape puzzle', async (t) => {
  const text = sagaYaml('      - name: a\n        comand: { subject: x, type: X }\n        reply: { subject: y, success: [Y] }');
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, { ...positionOf(text, 'comand'), message: 'unknown field `comand`', hint: 'did you mean `command`?' });
});

t.test('a missing required field names the field to add', async (t) => {
  const text = sagaYaml('      - name: a\n        command: { subject: x, type: X }\n        compensate: { command: { subject: x, type: U }, reply: { subject: y, success: [V] } }');
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, { ...positionOf(text, 'name: a'), path: 'sagas[0].steps[0]', message: 'missing required field `reply`', hint: 'add `reply:` to this command step' });
});

t.test('a step with two kinds, or none, gets one readable error', async (t) => {
  const text = sagaYaml('      - name: a\n        command: { subject: x, type: X }\n        wait: { subject: y, type: Y }\n      - name: b');
  const errors = errorsOf(text);
  t.equal(errors.length, 2);
  t.match(errors[0], { ...positionOf(text, 'name: a'), message: 'a step needs exactly one of command, wait, delay, saga, parallel or steps (a forEach group)', hint: /`command` and `wait`/ });
  t.match(errors[1], { ...positionOf(text, 'name: b'), message: 'a step needs exactly one of command, wait, delay, saga, parallel or steps (a forEach group)' });
});

t.test('a nested parallel group is an error with a sentence', async (t) => {
  const text = sagaYaml('      - name: g\n        parallel:\n          - - name: inner\n              parallel: [[{ name: x, wait: { subject: y, type: Y } }]]');
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, { ...positionOf(text, 'name: inner'), path: 'sagas[0].steps[0].parallel[0][0]', message: 'parallel groups cannot be nested' });
});

t.test('wrong types and values read plainly', async (t) => {
  const text = sagaYaml(commandYaml('a', { extra: 'retry: { maxAttempts: 0, jitter: some, backoffRate: 0.5 }\npivot: yes' }), '    description: [a]');
  const messages = errorsOf(text).map((e) => `${e.path}: ${e.message}`);
  t.same(messages, [
    'sagas[0].description: expected text, got a list',
    'sagas[0].steps[0].retry.maxAttempts: `0` is not a number of attempts',
    'sagas[0].steps[0].retry.jitter: `some` is not one of none, full',
    'sagas[0].steps[0].retry.backoffRate: `backoffRate` must be at least 1, not 0.5',
    'sagas[0].steps[0].pivot: expected true or false, got the text `yes`',
  ]);
});

t.test('a string that mixes text and {% is an error', async (t) => {
  const text = sagaYaml(commandYaml('a', { payload: '{ id: "order {% $input.id %}" }' }));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, { ...positionOf(text, '"order'), path: 'sagas[0].steps[0].command.payload.id', message: /mixes text with an expression/, hint: /exactly "\{% expression %\}"/ });
});

t.test('an expression that does not parse is reported at its string with the JSONata position', async (t) => {
  const text = sagaYaml(commandYaml('a', { extra: 'when: "{% $input.( %}"' }));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, { ...positionOf(text, '"{% $input.('), path: 'sagas[0].steps[0].when', message: /does not parse: .*at character \d+/ });
});

t.test('an expression field must be an expression', async (t) => {
  const text = sagaYaml(commandYaml('a', { extra: 'when: $input.ok' }));
  const [e] = errorsOf(text);
  t.match(e, { path: 'sagas[0].steps[0].when', message: '`$input.ok` is not an expression', hint: /\{% \.\.\. %\}/ });
});

t.test('errors from all sagas and files are collected and sorted by line', async (t) => {
  const text = [
    'sagas:',
    '  - name: one',
    '    steps:',
    commandYaml('a'),
    '  - name: two',
    '    timeout: soon',
    '    steps:',
    commandYaml('b', { extra: 'timeout: 1s' }),
    '',
  ].join('\n');
  const errors = errorsOf(text);
  t.same(errors.map((e) => e.path), ['sagas[0].steps[0]', 'sagas[0].steps[0].compensate', 'sagas[1].timeout']);
  t.match(errors[0], { message: 'step `a` has no timeout' });
  t.ok(errors[0]!.line < errors[2]!.line);
});
