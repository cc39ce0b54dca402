import t from 'tap';
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
