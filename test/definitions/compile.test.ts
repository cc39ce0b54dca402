import t from 'tap';
import { BUILT_IN_RETRY, loadDefinitionsText } from '../../engine/definitions/index.js';
import { commandStep, commandYaml, sagaOf, sagaYaml, waitStep } from './fixtures/saga-yaml.js';

t.test('retry precedence: step > defaults > built-in, field by field', async (t) => {
  const saga = sagaOf(sagaYaml([
    commandYaml('plain'),
    commandYaml('own', { extra: 'retry: { maxAttempts: 7, jitter: none }' }),
    commandYaml('unlimited', { extra: 'retry: { maxAttempts: unlimited }' }),
  ].join('\n'), '    defaults: { timeout: 10s, retry: { initialInterval: 200ms, maxAttempts: 5 } }').replace('    defaults: { timeout: 10s }\n', ''));
  t.same(BUILT_IN_RETRY, { maxAttempts: 3, initialInterval: 1000, backoffRate: 2, maxInterval: 30_000, jitter: 'full' });
  t.same(commandStep(saga, 'plain').retry, { ...BUILT_IN_RETRY, maxAttempts: 5, initialInterval: 200 });
  t.same(commandStep(saga, 'own').retry, { ...BUILT_IN_RETRY, maxAttempts: 7, initialInterval: 200, jitter: 'none' });
  t.equal(commandStep(saga, 'unlimited').retry.maxAttempts, null);
});

t.test('a compensation retries by its own block, then the defaults, not the step', async (t) => {
  const saga = sagaOf(sagaYaml([
    commandYaml('a', { extra: 'retry: { maxAttempts: 9, maxInterval: 1m }' }),
  ].join('\n')).replace('reply: { subject: svc.events, success: [Undone] }', 'reply: { subject: svc.events, success: [Undone] }\n          retry: { backoffRate: 3 }'));
  t.same(commandStep(saga, 'a').compensate?.retry, { ...BUILT_IN_RETRY, backoffRate: 3 });
});

t.test('timeout precedence for steps and compensations', async (t) => {
  const saga = sagaOf(sagaYaml([
    commandYaml('dflt'),
    commandYaml('own', { extra: 'timeout: 2s' }),
  ].join('\n')).replace(/(type: Undo, payload: \{\} \}\n)(.*\n)$/, '$1$2          timeout: 1m30s\n'));
  t.match(commandStep(saga, 'dflt'), { timeout: 10_000, compensate: { timeout: 10_000 } });
  t.match(commandStep(saga, 'own'), { timeout: 2000, compensate: { timeout: 90_000 } });
});

t.test('pivot flags: afterPivot for the pivot and later, retried until success', async (t) => {
  const saga = sagaOf(sagaYaml([
    commandYaml('before'),
    commandYaml('pivot', { compensate: false, extra: 'pivot: true' }),
    commandYaml('after', { compensate: false }),
    '      - name: wait-after\n        wait: { subject: x.events, type: Came }',
  ].join('\n')));
  t.match(commandStep(saga, 'before'), { afterPivot: false, pivot: false, retry: { maxAttempts: 3 } });
  t.match(commandStep(saga, 'pivot'), { afterPivot: true, pivot: true, retry: { maxAttempts: null }, compensate: null });
  t.match(commandStep(saga, 'after'), { afterPivot: true, pivot: false, retry: { maxAttempts: null } });
  t.match(waitStep(saga, 'wait-after'), { afterPivot: true, timeout: null, match: null });
});

t.test('templates collapse literal subtrees and keep expressions', async (t) => {
  const saga = sagaOf(sagaYaml(commandYaml('a', { payload: '{ fixed: { a: [1, "two", null], b: true }, list: [1, "{% $input.x %}"], text: "50% off" }' })));
  const payload = commandStep(saga, 'a').command.payload;
  if (payload.kind !== 'object') throw new Error('expected an object template');
  const [fixed, list, text] = payload.entries;
  t.same(fixed, ['fixed', { kind: 'literal', value: { a: [1, 'two', null], b: true } }]);
  t.match(list, ['list', { kind: 'array', items: [{ kind: 'literal', value: 1 }, { kind: 'expr', expr: { source: '$input.x' } }] }]);
  t.same(text, ['text', { kind: 'literal', value: '50% off' }]);
  t.same(commandStep(saga, 'a').compensate?.command.payload, { kind: 'literal', value: {} });
});

t.test('a message has version 1 and an empty payload by default', async (t) => {
  const saga = sagaOf(sagaYaml('      - name: a\n        pivot: true\n        command: { subject: x.commands, type: Go, version: 2 }\n        reply: { subject: x.events, success: [Gone] }'));
  t.same(commandStep(saga, 'a').command, { subject: 'x.commands', type: 'Go', version: 2, payload: { kind: 'literal', value: {} } });
  t.match(sagaOf(sagaYaml(commandYaml('b'))).stages[0], { command: { version: 1 } });
});

t.test('a saga without start, timeout or description compiles with nulls', async (t) => {
  const saga = sagaOf(sagaYaml(commandYaml('a')));
  t.match(saga, { name: 's', description: '', start: { on: null, key: null }, timeout: null, schemas: {} });
});

t.test('an empty file and a file without sagas load', async (t) => {
  t.match(loadDefinitionsText('', 'empty.yaml'), { ok: true, sagas: [], files: ['empty.yaml'] });
  t.match(loadDefinitionsText('version: 1\n', 'v.yaml'), { ok: true, sagas: [] });
});
