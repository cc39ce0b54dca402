import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../../cli/program.js';
import { errorsOf, positionOf } from './fixtures/saga-yaml.js';

/**
 * The loader reports every problem of a file that parses in one round (issue 12): a schema
 * error in one part of a saga no longer hides the compile errors (references, pivot rules,
 * expressions, timeouts) of its other parts, nor of other sagas.
 */
const text = [
  'sagas:',
  '  - name: first',
  '    start: { key: "{% $input.( %}" }',
  '    defaults: { timeout: 10s }',
  '    steps:',
  '      - name: a',
  '        command: { subject: x.c, type: A }',
  '        reply: { subject: x.e, success: [AOk] }',
  '        timeout: 5 seconds',
  '      - name: b',
  '        command: { subject: x.c, type: B, payload: { id: "{% $steps.nowhere.id %}" } }',
  '        reply: { subject: x.e, success: [BOk] }',
  '      - name: c',
  '        pivot: true',
  '        command: { subject: x.c, type: C }',
  '        reply: { subject: x.e, success: [COk] }',
  '  - name: second',
  '    steps:',
  '      - name: d',
  '        command: { subject: x.c, type: D }',
  '        reply: { subject: x.e, success: [DOk] }',
  '        compensate:',
  '          command: { subject: x.c, type: E }',
  '          reply: { subject: x.e, success: [EOk] }',
  '',
].join('\n');

t.test('a schema error and the compile errors of the same saga come in one round', async (t) => {
  const errors = errorsOf(text);
  const found = errors.map((e) => ({ line: e.line, path: e.path, message: e.message }));
  t.match(found, [
    { line: positionOf(text, '"{% $input.( %}"').line, path: 'sagas[0].start.key', message: /the expression does not parse/ },
    { line: positionOf(text, '5 seconds').line, path: 'sagas[0].steps[0].timeout', message: '`5 seconds` is not a duration' },
    { line: positionOf(text, '- name: b').line, path: 'sagas[0].steps[1]', message: /step `b` has no compensate/ },
    { line: positionOf(text, '"{% $steps.nowhere.id %}"').line, path: 'sagas[0].steps[1].command.payload.id', message: /nowhere/ },
    { line: positionOf(text, '- name: d').line, path: 'sagas[1].steps[0]', message: /step `d` has no timeout/ },
    { line: positionOf(text, 'type: E').line, path: 'sagas[1].steps[0].compensate', message: /has no timeout/ },
  ], 'the schema error, the key, the reference, the missing compensation and the other saga\'s missing timeouts', { errors });
  t.equal(errors.length, 6, 'and nothing else', { errors });
});

t.test('sagactl validate lists them all, each with its file and line', async (t) => {
  const file = join(t.testdir(), 'defs.yaml');
  writeFileSync(file, text);
  let out = '';
  let err = '';
  const code = await runCli(['validate', file], { out: (s) => { out += s; }, err: (s) => { err += s; } });
  t.equal(code, 1);
  t.equal(out, '');
  const lines = err.split('\n').filter((l) => l.startsWith(file));
  t.equal(lines.length, 6, err);
  for (const needle of ['"{% $input.( %}"', '5 seconds', '- name: b', '"{% $steps.nowhere.id %}"', '- name: d']) {
    t.ok(lines.some((l) => l.startsWith(`${file}:${positionOf(text, needle).line}:`)), `an error at the line of ${needle}`);
  }
});

t.test('a part the schema rejects is left to its schema error, and the other parts still count', async (t) => {
  const broken = [
    'sagas:',
    '  - name: s',
    '    defaults: { timeout: 10s, retry: { maxAttempts: many } }',
    '    steps:',
    '      - name: a',
    '        command: { subject: x.c, type: A, payload: { id: "{% $steps.nowhere.id %}" } }',
    '        reply: { subject: x.e, success: [AOk] }',
    '      - name: a',
    '        parallel: oops',
    '',
  ].join('\n');
  const errors = errorsOf(broken);
  t.match(errors.map((e) => e.path), ['sagas[0].defaults.retry.maxAttempts', 'sagas[0].steps[1].name', 'sagas[0].steps[1].parallel'],
    'bad defaults leave the steps unchecked; the name used twice is still found', { errors });
  t.equal(errors.length, 3, { errors });
});
