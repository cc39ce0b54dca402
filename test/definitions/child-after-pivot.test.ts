import t from 'tap';
import { errorsOf, positionOf, sagasOf } from './fixtures/saga-yaml.js';

/**
 * A `saga` step after its saga's pivot must succeed, like every step there (DESIGN section 2):
 * its child, and every saga the child starts, must retry until it completes. A child that can
 * fail on a reply, run out of attempts, or run out of time is refused at the referring step.
 */

/** A parent whose step `invoice`, after the pivot `ship`, starts `billing`; then the given sagas. */
const parent = (rest: string, place: 'after' | 'branch' = 'after') => [
  'sagas:',
  '  - name: parent',
  '    defaults: { timeout: 5s }',
  '    steps:',
  '      - name: ship',
  '        pivot: true',
  '        command: { subject: a.cmd, type: Ship }',
  '        reply: { subject: a.evt, success: [Shipped] }',
  ...(place === 'after'
    ? ['      - name: invoice', '        saga: billing']
    : ['      - name: after', '        parallel:', '          - - name: invoice', '              saga: billing', '          - - name: note', '              delay: { for: 1s }']),
  rest,
].join('\n');

const command = (name: string, extra = '', reply = 'success: [Done]') => [
  `      - name: ${name}`,
  `        command: { subject: b.cmd, type: Do-${name} }`,
  `        reply: { subject: b.evt, ${reply} }`,
  ...(extra === '' ? [] : [`        ${extra}`]),
  '        compensate:',
  `          command: { subject: b.cmd, type: Undo-${name} }`,
  '          reply: { subject: b.evt, success: [Undone] }',
].join('\n');

const billing = (steps: string, head = '    defaults: { timeout: 5s }') => ['  - name: billing', head, '    steps:', steps, ''].join('\n');

const refusal = /^step `invoice` comes after the pivot, so it cannot fail, but its child `billing` can: /;

t.test('a child whose step has failure replies is refused at the saga step, naming the child\'s step', async (t) => {
  const text = parent(billing(command('charge', '', 'success: [Charged], failure: [Declined]')));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, {
    ...positionOf(text, 'billing'),
    path: 'sagas[0].steps[1].saga',
    message: 'step `invoice` comes after the pivot, so it cannot fail, but its child `billing` can: its step `charge` fails on the reply `Declined`',
    hint: /make every step of billing, and of the sagas it starts, retry until it succeeds .*, or run `invoice` before the pivot of parent$/,
  });
});

t.test('a child whose step has limited attempts (its own or the defaults) is refused', async (t) => {
  const own = parent(billing(command('charge', 'retry: { maxAttempts: 3 }')));
  t.match(errorsOf(own).map((e) => e.message), [/its step `charge` fails after 3 attempts \(maxAttempts\)$/]);
  const byDefault = parent(billing(command('charge'), '    defaults: { timeout: 5s, retry: { maxAttempts: 2 } }'));
  t.match(errorsOf(byDefault).map((e) => e.message), [/its step `charge` fails after 2 attempts/]);
  // A step with no retry block at all takes the built-in policy, which gives up too.
  t.match(errorsOf(parent(billing(command('charge'), '    defaults: { timeout: 5s }'))).map((e) => e.message), [refusal]);
});

t.test('a child that can run out of time is refused: its saga timeout, a wait\'s timeout, a saga step\'s timeout', async (t) => {
  const unlimited = '    defaults: { timeout: 5s, retry: { maxAttempts: unlimited } }';
  t.match(errorsOf(parent(billing(command('charge'), `${unlimited}\n    timeout: 10m`))).map((e) => e.message),
    [/its saga timeout compensates it when it passes$/]);
  t.match(errorsOf(parent(billing('      - name: hear\n        wait: { subject: b.evt, type: Heard }\n        timeout: 1m', unlimited))).map((e) => e.message),
    [/its wait step `hear` fails when its timeout passes$/]);
  const nested = billing('      - name: tax\n        saga: taxes\n        timeout: 1m', unlimited) + '  - name: taxes\n    steps:\n      - name: x\n        delay: { for: 1s }\n';
  t.match(errorsOf(parent(nested)).map((e) => e.message), [/its step `tax` fails when its child saga `taxes` outlasts the step's timeout$/]);
});

t.test('the rule follows the child\'s own saga steps, and stops at a cycle', async (t) => {
  const unlimited = '    defaults: { timeout: 5s, retry: { maxAttempts: unlimited } }';
  const text = parent(billing('      - name: tax\n        saga: taxes', unlimited)
    + ['  - name: taxes', unlimited, '    steps:', command('lookup', '', 'success: [Found], failure: [Unknown]'), ''].join('\n'));
  const [e, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.match(e, {
    path: 'sagas[0].steps[1].saga',
    message: 'step `invoice` comes after the pivot, so it cannot fail, but its child `billing` can: its step `tax` starts saga `taxes`, whose step `lookup` fails on the reply `Unknown`',
  });
  // billing and taxes start each other: the cycle is reported, and the check of invoice ends.
  const cycle = parent(billing('      - name: tax\n        saga: taxes', unlimited)
    + ['  - name: taxes', unlimited, '    steps:', '      - name: back', '        saga: billing', ''].join('\n'));
  t.match(errorsOf(cycle).map((e) => e.message).sort(), [
    /step `back` starts saga `billing`, which starts `taxes` again/,
    /step `tax` starts saga `taxes`, which starts `billing` again/,
  ]);
});

t.test('a saga step in a parallel group after the pivot is checked too', async (t) => {
  const text = parent(billing(command('charge', '', 'success: [Charged], failure: [Declined]')), 'branch');
  t.match(errorsOf(text), [{ path: 'sagas[0].steps[1].parallel[0][0].saga', message: refusal }]);
});

t.test('a child that always completes loads after the pivot; before the pivot a child may fail', async (t) => {
  // Unlimited attempts, replies that are retried, no timeouts: the child completes (its own
  // pivot's failure would fail it, so a pivot in the child needs no failure list either).
  const fine = billing([
    command('charge', '', 'success: [Charged], retryable: [Busy]'),
    '      - name: post',
    '        pivot: true',
    '        command: { subject: b.cmd, type: Post }',
    '        reply: { subject: b.evt, success: [Posted] }',
    '      - name: hear',
    '        wait: { subject: b.evt, type: Heard }',
  ].join('\n'), '    defaults: { timeout: 5s, retry: { maxAttempts: unlimited } }');
  t.same(sagasOf(parent(fine)).map((s) => s.name), ['parent', 'billing']);
  const pivotFails = fine.replace('success: [Posted]', 'success: [Posted], failure: [Refused]');
  t.match(errorsOf(parent(pivotFails)).map((e) => e.message), [/its step `post` fails on the reply `Refused`/]);

  const before = [
    'sagas:',
    '  - name: parent',
    '    defaults: { timeout: 5s }',
    '    steps:',
    '      - name: invoice',
    '        saga: billing',
    '      - name: ship',
    '        pivot: true',
    '        command: { subject: a.cmd, type: Ship }',
    '        reply: { subject: a.evt, success: [Shipped] }',
    billing(command('charge', 'retry: { maxAttempts: 2 }', 'success: [Charged], failure: [Declined]'), '    defaults: { timeout: 5s }\n    timeout: 10m'),
  ].join('\n');
  t.same(sagasOf(before).map((s) => s.name), ['parent', 'billing'], 'compensable there, so it may fail');
});
