/**
 * A value an expression builds out of shared parts is measured as JSON would write it, each
 * shared part counted each time it appears: forty `{'a': $acc, 'b': $acc}` stand for a
 * trillion objects, which the shell's JSON encoding (or `$string`) would spend minutes and
 * gigabytes on. Such an evaluation fails its step with the limit's reason instead.
 */
import fc from 'fast-check';
import t from 'tap';
import type { ExprScope } from '../../engine/core/definition.js';
import { start } from '../../engine/core/decide.js';
import { evaluate } from '../../engine/core/template.js';
import { SizeMeter } from '../../engine/definitions/expanded-size.js';
import type { SizeBounds } from '../../engine/definitions/expanded-size.js';
import { DEFAULT_EXPRESSION_LIMITS, setExpressionLimits } from '../../engine/definitions/expression-limits.js';
import { compileExpr } from '../../engine/definitions/index.js';
import { sagaOf } from './fixtures/saga-yaml.js';

const scopeWith = (input: unknown): ExprScope => ({ input, steps: {}, saga: { id: 'i-1', key: 'k', name: 's', correlationId: 'c' }, event: null });
const run = (source: string, input: unknown = {}) => evaluate(compileExpr(source), scopeWith(input));
// A value that got past the limits is not written out: that is what would take minutes.
const failure = (r: ReturnType<typeof run>): string => (r.ok ? 'evaluated to a value' : r.error);

t.afterEach(() => setExpressionLimits(DEFAULT_EXPRESSION_LIMITS));

const DOUBLING = "$reduce([1..40], function($acc, $v) { {'a': $acc, 'b': $acc} }, $input)";

t.test('a payload built of shared parts fails its step with the size limit (the reviewer\'s t7 saga)', async (t) => {
  const saga = sagaOf(`sagas:
  - name: s
    defaults: { timeout: 5s }
    steps:
      - name: a
        pivot: true
        command:
          subject: a.cmd
          type: Do
          payload: { d: "{% ${DOUBLING} %}" }
        reply: { subject: a.evt, success: [Done] }
`);
  const d = start(saga, { id: 'i', input: { n: 1 }, key: null, correlationId: 'c', event: null, causationId: 'x' }, { now: 1, newId: () => 'n', random: () => 0 });
  t.notOk(d.effects.some((e) => e.type === 'SendCommand'), 'no command carries the value');
  const failed = d.events.find((e) => e.type === 'StepFailed');
  t.match(failed, { type: 'StepFailed', step: 'a', status: 'failed' });
  t.match(failed && 'error' in failed ? failed.error : '', /stopped: it built a value of [\d]+ characters or more as JSON \(a part it repeats counts each time\), more than the 4000000 allowed/);
});

t.test('the same value handed to $string, to & or to a transform is refused before it is written', async (t) => {
  // Twenty levels and a lower limit: without the measure, each of these writes 12 MB, not 12 TB.
  setExpressionLimits({ maxChars: 10_000 });
  const doubling = DOUBLING.replace('[1..40]', '[1..20]');
  for (const source of [`$string(${doubling})`, `${doubling} & ''`, `${doubling} ~> |$|{'z': 1}|`]) {
    t.match(failure(run(`{% ${source} %}`, 1)), /stopped: it built a value of \d+ characters or more as JSON \(a part it repeats counts each time\), more than the 10000 allowed/, source);
  }
});

t.test('arrays of shared arrays count every item they repeat', async (t) => {
  setExpressionLimits({ maxChars: 10_000 });
  // Each level holds the one before twice, as one array item: 2^20 numbers in a value of twenty arrays.
  t.match(failure(run("{% $reduce([1..20], function($acc, $v) { [[$acc], [$acc]] }, 1) %}")), /it built a value of \d+ characters or more as JSON/);
});

t.test('a transform that assigns into what it matched is measured after the assignment', async (t) => {
  // `$clone` rebound to the identity makes the transform change the object it was given, after
  // JSONata handed that object (small then) to the guard: a size remembered from then would be wrong.
  const source = "($clone := function($o) { $o }; $reduce([1..40], function($acc, $v) { {'a': {}} ~> |a|{'x': $acc, 'y': $acc}| }, 1))";
  t.match(failure(run(`{% ${source} %}`)), /it built a value of \d+ characters or more as JSON/);
  t.match(failure(run("{% ($clone := function($o) { $o }; $o := {'a': {}}; $o ~> |a|{'b': $o}|) %}")), /it built a value that contains itself, which JSON cannot hold/);
});

t.test('a function value counts the value it was defined on, which JSON would write with it', async (t) => {
  setExpressionLimits({ maxChars: 10_000 });
  const input = { text: 'x'.repeat(1000) };
  t.match(failure(run('{% [1..20].($input.(function() { 1 })) %}', input)), /it built a value of \d+ characters or more as JSON/);
  t.equal(run('{% [1..5].($input.(function() { 1 })) %}', input).ok, true, 'five of them fit');
});

t.test('$string, $clone and & are bounded by what they would write, before they write it', async (t) => {
  setExpressionLimits({ maxChars: 1000 });
  // The saga's own data is not measured when it is read, only when something writes it out.
  const big = { text: 'x'.repeat(1500) };
  t.match(failure(run('{% $string($input) %}', big)), /stopped: \$string would write \d+ characters or more, more than the 1000 allowed/);
  t.match(failure(run("{% $input & '' %}", big)), /stopped: & would write \d+ characters or more, more than the 1000 allowed/);
  t.match(failure(run('{% $clone($input) %}', big)), /stopped: \$clone would write \d+ characters or more, more than the 1000 allowed/);
  // Indented, a deep value writes far more than it holds.
  let deep: unknown = 1;
  for (let i = 0; i < 60; i++) deep = [deep, i];
  t.equal(run('{% $string($input) %}', deep).ok, true, 'compact, it fits');
  t.match(failure(run('{% $string($input, true) %}', deep)), /stopped: \$string would write up to \d+ characters with indentation, more than the 1000 allowed/);
});

t.test('$string is given at most maxItems values: it calls a function for each', async (t) => {
  // 150 arrays of 1,000 numbers: no array over the item limit, 150,000 values to write.
  const input = Array.from({ length: 150 }, () => Array.from({ length: 1000 }, (_, i) => i));
  t.match(failure(run('{% $string($input) %}', input)), /stopped: \$string was given \d+ values or more to write, more than the 100000 allowed/);
  t.match(failure(run("{% $input & '' %}", input)), /stopped: & was given \d+ values or more to write/);
});

t.test('ordinary values are built and written as before', async (t) => {
  const input = { orderId: 'o-1', items: [{ sku: 'a', qty: 2 }, { sku: 'b', qty: 1 }] };
  t.same(run("{% {'order': $input, 'count': $count($input.items)} %}", input), { ok: true, value: { order: input, count: 2 } });
  t.same(run('{% $string($input.items[0]) %}', input), { ok: true, value: '{"sku":"a","qty":2}' });
  t.same(run("{% 'id-' & $input.items[1] %}", input), { ok: true, value: 'id-{"sku":"b","qty":1}' });
  t.same(run("{% $input ~> |items|{'seen': true}| %}", input), { ok: true, value: { ...input, items: input.items.map((i) => ({ ...i, seen: true })) } });
  t.same(run("{% $reduce([1..5], function($acc, $v) { {'a': $acc, 'b': $acc} }, 0).a.a.a.a.b %}"), { ok: true, value: 0 }, 'a small shared value is fine');
});

const bounds: SizeBounds = { maxChars: Infinity, maxValues: Infinity, exceeded: () => { throw new Error('exceeded'); } };

t.test('the meter counts the characters JSON.stringify writes', async (t) => {
  const json = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.string({ unit: 'grapheme-ascii' }).filter((s) => JSON.stringify(s).length === s.length + 2), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 5 }),
    object: fc.dictionary(fc.string({ unit: 'grapheme-ascii' }).filter((s) => JSON.stringify(s).length === s.length + 2), tie('value'), { maxKeys: 5 }),
  })).value;
  fc.assert(fc.property(json, (v) => new SizeMeter().measure(v, bounds).chars === JSON.stringify(v).length));
  const shared = { k: [1, 2, 3] };
  const twice = [shared, shared, { inner: shared }];
  t.equal(new SizeMeter().measure(twice, bounds).chars, JSON.stringify(twice).length, 'a shared part counts each time');
  t.same(new SizeMeter().measure(twice, bounds), { chars: JSON.stringify(twice).length, values: 17, height: 4 });
});
