import t from 'tap';
import { commandYaml, errorsOf, positionOf, sagaYaml, sagasOf } from './fixtures/saga-yaml.js';

const ref = (name: string): string => `"{% $steps.\`${name}\`.id %}"`;

t.test('a compensation that refers to a later step', async (t) => {
  const text = sagaYaml([
    commandYaml('reserve-inventory', { undoPayload: `{ id: ${ref('charge-payment')} }` }),
    commandYaml('charge-payment'),
  ].join('\n'));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, {
    ...positionOf(text, ref('charge-payment')),
    path: 'sagas[0].steps[0].compensate.command.payload.id',
    message: 'compensation refers to `charge-payment`, which comes later',
  });
});

t.test('a compensation may refer to its own step; a payload may not', async (t) => {
  const text = sagaYaml(commandYaml('a', { payload: `{ id: ${ref('a')} }`, undoPayload: `{ id: ${ref('a')} }` }));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, { path: 'sagas[0].steps[0].command.payload.id', message: 'payload refers to `a` itself, which has no result yet' });
});

t.test('a reference to a step in a sibling branch', async (t) => {
  const text = sagaYaml([
    '      - name: book',
    '        parallel:',
    '          -',
    commandYaml('book-flight', { indent: 12 }),
    '          -',
    commandYaml('book-hotel', { indent: 12, payload: `{ flight: ${ref('book-flight')} }` }),
  ].join('\n'));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, {
    ...positionOf(text, ref('book-flight')),
    path: 'sagas[0].steps[0].parallel[1][0].command.payload.flight',
    message: 'payload refers to `book-flight`, which runs in another branch of the same parallel group',
  });
});

t.test('references within a branch and to earlier stages are fine; to a group or an unknown step are not', async (t) => {
  const text = sagaYaml([
    commandYaml('first'),
    '      - name: book',
    '        parallel:',
    '          -',
    commandYaml('one', { indent: 12, payload: `{ a: ${ref('first')} }` }),
    commandYaml('two', { indent: 12, payload: `{ a: ${ref('one')} }` }),
    commandYaml('after', { payload: `{ a: ${ref('two')}, b: ${ref('book')}, c: ${ref('secnod')} }` }),
  ].join('\n'));
  const errors = errorsOf(text);
  t.same(errors.map((e) => e.message), [
    'payload refers to `book`, which is a parallel group',
    'payload refers to `secnod`, but the saga has no step of that name',
  ]);
});

t.test('start.key and when refer only to what exists then', async (t) => {
  const text = sagaYaml(commandYaml('a', { extra: `when: ${ref('b')}` }) + '\n' + commandYaml('b'), `    start: { key: ${ref('a')} }`);
  t.same(errorsOf(text).map((e) => `${e.path}: ${e.message}`), [
    'sagas[0].start.key: start.key refers to `a`, but no step has run when the saga starts',
    'sagas[0].steps[0].when: when refers to `b`, which comes later',
  ]);
});

t.test('a command step without compensate before the pivot', async (t) => {
  const text = sagaYaml([commandYaml('a', { compensate: false }), commandYaml('ship', { compensate: false, extra: 'pivot: true' }), commandYaml('notify', { compensate: false })].join('\n'));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, {
    ...positionOf(text, 'name: a'),
    path: 'sagas[0].steps[0]',
    message: 'step `a` has no compensate',
    hint: 'add a compensate block, or mark the point of no return with pivot: true',
  });
});

t.test('two pivots', async (t) => {
  const text = sagaYaml([commandYaml('a', { compensate: false, extra: 'pivot: true' }), commandYaml('b', { compensate: false, extra: 'pivot: true' })].join('\n'));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  const second = text.indexOf('pivot', text.indexOf('name: b'));
  t.match(e, { line: text.slice(0, second).split('\n').length, path: 'sagas[0].steps[1].pivot', message: 'step `b` is a second pivot, after `a`' });
});

t.test('the pivot has no compensate, is top-level, and steps after it never give up', async (t) => {
  const text = sagaYaml([
    commandYaml('a', { extra: 'pivot: true' }),
    commandYaml('b', { compensate: false, extra: 'retry: { maxAttempts: 5 }' }),
    '      - name: c\n        command: { subject: x, type: X }\n        reply: { subject: y, success: [Y], failure: [N] }',
    '      - name: d\n        wait: { subject: y, type: Z }\n        timeout: 1h',
    commandYaml('e'),
    '      - name: g\n        parallel: [[{ name: h, command: { subject: x, type: X }, reply: { subject: y, success: [Y] }, pivot: true }]]',
  ].join('\n'));
  t.same(errorsOf(text).map((e) => `${e.path}: ${e.message}`), [
    'sagas[0].steps[0].compensate: the pivot `a` cannot have a compensate block',
    'sagas[0].steps[1].retry.maxAttempts: step `b` comes after the pivot, so it must retry until it succeeds',
    'sagas[0].steps[2].reply.failure: step `c` comes after the pivot, so it cannot fail',
    'sagas[0].steps[3].timeout: step `d` comes after the pivot, so it cannot time out',
    'sagas[0].steps[4].compensate: step `e` comes after the pivot, so it is never compensated',
    'sagas[0].steps[5].parallel[0][0].pivot: step `h` is inside parallel group `g`, so it cannot be the pivot',
  ]);
});

t.test('duplicate step names, across branches too', async (t) => {
  const text = sagaYaml([
    commandYaml('a'),
    '      - name: g\n        parallel:\n          -',
    commandYaml('b', { indent: 12 }),
    '          -',
    commandYaml('a', { indent: 12 }),
  ].join('\n'));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  const second = text.lastIndexOf('name: a');
  t.match(e, {
    line: text.slice(0, second).split('\n').length,
    path: 'sagas[0].steps[1].parallel[1][0].name',
    message: 'step name `a` is used twice in saga `s`',
    hint: `the first \`a\` is at line ${positionOf(text, 'name: a').line}; give each step its own name`,
  });
});

t.test('a command step and a compensation need a timeout', async (t) => {
  const text = ['sagas:', '  - name: s', '    steps:', commandYaml('a', { extra: 'timeout: 5s' }), commandYaml('b'), ''].join('\n');
  t.same(errorsOf(text).map((e) => `${e.path}: ${e.message}`), [
    'sagas[0].steps[1]: step `b` has no timeout',
    'sagas[0].steps[1].compensate: the compensation of `b` has no timeout',
  ]);
});

t.test('a reply type in two lists, and a zero timeout', async (t) => {
  const text = sagaYaml('      - name: a\n        command: { subject: x, type: X }\n        reply: { subject: y, success: [Y], retryable: [Y] }\n        timeout: 0s\n        pivot: true');
  t.same(errorsOf(text).map((e) => e.message), ['`Y` is listed as both success and retryable', 'a timeout must be longer than zero']);
});

t.test('a duration longer than 100 years is refused where it is written: timeouts, delays and retry intervals', async (t) => {
  const text = [
    'sagas:',
    '  - name: s',
    '    timeout: 36526d',
    '    defaults: { timeout: 5s, retry: { initialInterval: 1s, maxInterval: 9999999999999999999999999999999999999999h } }',
    '    steps:',
    commandYaml('a', { extra: 'timeout: 200000000d\nretry: { initialInterval: 40000d }' }),
    '      - name: pause',
    '        delay: { for: 876601h }',
    '',
  ].join('\n');
  const errors = errorsOf(text);
  t.same(errors.map((e) => `${e.path}: ${e.message}`), [
    'sagas[0].timeout: `36526d` is longer than the longest duration sagad takes, 100 years (36525d)',
    'sagas[0].defaults.retry.maxInterval: `9999999999999999999999999999999999999999h` is longer than the longest duration sagad takes, 100 years (36525d)',
    'sagas[0].steps[0].timeout: `200000000d` is longer than the longest duration sagad takes, 100 years (36525d)',
    'sagas[0].steps[0].retry.initialInterval: `40000d` is longer than the longest duration sagad takes, 100 years (36525d)',
    'sagas[0].steps[1].delay.for: `876601h` is longer than the longest duration sagad takes, 100 years (36525d)',
  ]);
  t.equal(errors[0]?.line, 3, 'on the line of the duration');
  t.match(errors[0], { hint: 'write a shorter duration' });
  t.ok(sagasOf(text.replace(/36526d|9+h|200000000d|40000d|876601h/g, '36525d')), '100 years is allowed');
});
