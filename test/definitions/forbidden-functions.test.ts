import t from 'tap';
import { compileSagaSource } from '../../engine/definitions/index.js';
import { commandYaml, errorsOf, sagaYaml, sagasOf } from './fixtures/saga-yaml.js';

/** README: the loader refuses $now, $millis and $random (an expression must replay the same); before, they only threw when evaluated. */
t.test('a clock, random or eval function is refused at load, wherever it is named, with the file and line', async (t) => {
  const text = [
    'sagas:',
    '  - name: s',
    '    start: { key: "{% $string($millis()) %}" }',
    '    defaults: { timeout: 5s }',
    '    steps:',
    commandYaml('a', { payload: '{ at: "{% $now() %}", pick: "{% $map([1, 2], $random) %}", ev: "{% $eval(\'1\') %}", s: "{% $shuffle([1]) %}" }' }),
    '',
  ].join('\n');
  const errors = errorsOf(text);
  t.same(errors.map((e) => `${e.line} ${e.path}: ${e.message.split(':')[0]}`), [
    '3 sagas[0].start.key: `$millis` is not allowed in saga expressions',
    '7 sagas[0].steps[0].command.payload.at: `$now` is not allowed in saga expressions',
    '7 sagas[0].steps[0].command.payload.pick: `$random` is not allowed in saga expressions',
    '7 sagas[0].steps[0].command.payload.ev: `$eval` is not allowed in saga expressions',
    '7 sagas[0].steps[0].command.payload.s: `$shuffle` is not allowed in saga expressions',
  ]);
  t.match(errors[1]?.hint, /take the time from the saga's data/);
  t.match(errors[3]?.hint, /write the expression itself/);
});

t.test('other functions, and names that merely contain a forbidden one, load', async (t) => {
  t.ok(sagasOf(sagaYaml(`      - name: a
        pivot: true
        when: "{% $number($input.nowish) > 0 and $exists($input.randomId) %}"
        command: { subject: x, type: X, payload: { t: "{% $fromMillis($input.millis) %}" } }
        reply: { subject: y, success: [Y] }
        timeout: 5s`)));
});

t.test('a name the expression binds itself is its own variable, not the function', async (t) => {
  t.ok(sagasOf(sagaYaml(`      - name: a
        pivot: true
        command:
          subject: x
          type: X
          payload:
            a: "{% ($now := $input.ts; $now) %}"
            b: "{% $map([1, 2], function($random) { $random * 2 }) %}"
            c: "{% $input.orders@$millis.($millis.id) %}"
        reply: { subject: y, success: [Y] }
        timeout: 5s`)));
});

t.test('a binding covers only its own scope: the function called outside it is refused', async (t) => {
  for (const [expr, name] of [
    ['$map([1], function($now) { $now }) & $string($now())', 'now'],
    ['($millis := 5; $millis) + $millis()', 'millis'],
    ['($x := $random(); $random := 1; $random + $x)', 'random'],
    ['$input.orders@$o.($o.id) & $string($shuffle([1]))', 'shuffle'],
  ] as const) {
    const errors = errorsOf(sagaYaml(`      - name: a
        pivot: true
        command: { subject: x, type: X, payload: { v: "{% ${expr} %}" } }
        reply: { subject: y, success: [Y] }
        timeout: 5s`));
    t.match(errors, [{ message: new RegExp(`^\\\`\\$${name}\\\` is not allowed`) }], expr);
  }
});

t.test('a stored definition is compiled again as it was stored: the rules added since (functions, durations, subjects) do not stop its instances', async (t) => {
  const [saga] = sagasOf(sagaYaml(`      - name: a
        pivot: true
        command: { subject: x, type: X, payload: { t: "{% $input.t %}" } }
        reply: { subject: y, success: [Y] }
        timeout: 5s`));
  if (saga === undefined) throw new Error('no saga');
  const older = saga.source.replace('{% $input.t %}', '{% $now() %}').replace('"5s"', '"50000d"').replace(/"subject":\s*"x"/, '"subject": "x.>"');
  t.ok(older.includes('$now()') && older.includes('"50000d"') && older.includes('x.>'), 'a source as an older build stored it');
  const r = compileSagaSource(older);
  t.ok(r.ok, r.ok ? 'compiles' : r.errors.map((e) => e.message).join('; '));
});

t.test('an expression that binds $clone, which a transform copies through, is refused; a transform and $clone called load', async (t) => {
  for (const expr of [
    "($clone := function($x) { $x }; $input ~> |$|{'a': 1}|)",
    "(function($clone) { $input ~> |$|{'a': 1}| })(function($x) { $x })",
    '$input.orders@$clone.($clone.id)',
    '$input.orders#$clone.($clone)',
  ]) {
    const errors = errorsOf(sagaYaml(`      - name: a
        pivot: true
        command: { subject: x, type: X, payload: { v: "{% ${expr} %}" } }
        reply: { subject: y, success: [Y] }
        timeout: 5s`));
    t.same(errors.map((e) => `${e.path}: ${e.message.split(':')[0]}`), ['sagas[0].steps[0].command.payload.v: `$clone` is bound in the expression'], expr);
    t.equal(errors[0]?.hint, 'give the variable another name');
  }
  t.ok(sagasOf(sagaYaml(`      - name: a
        pivot: true
        command: { subject: x, type: X, payload: { v: "{% $input ~> |$|{'a': 1}| %}", w: "{% $clone($input) %}", x: "{% ($cloned := $input; $cloned) %}" } }
        reply: { subject: y, success: [Y] }
        timeout: 5s`)));
});
