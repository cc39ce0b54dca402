import jsonata from 'jsonata';
import t from 'tap';
import type { ExprScope } from '../../engine/core/definition.js';
import { evaluate } from '../../engine/core/template.js';
import { compileExpr, ExpressionEvaluationError } from '../../engine/definitions/index.js';
import { DEFAULT_EXPRESSION_LIMITS, ExpressionLimitError, expressionLimits, guardBindings, rangeSides, setExpressionLimits } from '../../engine/definitions/expression-limits.js';

const scopeWith = (input: unknown, steps: Record<string, unknown> = {}): ExprScope => ({
  input, steps, saga: { id: 'i-1', key: 'k', name: 's', correlationId: 'c' }, event: null,
});

/** Evaluates through the core's `evaluate`, as `decide` does: an error comes back as data. */
function run(source: string, scope: ExprScope): { ok: true; value: unknown } | { ok: false; error: string } {
  return evaluate(compileExpr(source), scope);
}

t.afterEach(() => setExpressionLimits(DEFAULT_EXPRESSION_LIMITS));

t.test('a quadratic path over a 6,000-item input is stopped with a clear reason', async (t) => {
  const input = { a: Array.from({ length: 6000 }, (_, i) => i) };
  const r = run('{% $count($input.a.($input.a)) %}', scopeWith(input));
  t.equal(r.ok, false);
  if (!r.ok) t.match(r.error, /^expression \{% \$count\(\$input\.a\.\(\$input\.a\)\) %\} stopped: it ran longer than 50 ms and was stopped \(the limit is SAGA_EXPR_TIMEOUT\)/);
});

t.test('$sum([1..10000000]) is refused before the range is built', async (t) => {
  const r = run('{% $sum([1..10000000]) %}', scopeWith({}));
  t.equal(r.ok, false);
  if (!r.ok) t.match(r.error, 'stopped: the range [1..10000000] would hold 10000000 items, more than the 100000 allowed');
  t.same(run('{% $sum([1..100]) %}', scopeWith({})), { ok: true, value: 5050 }, 'a small range still works');
});

t.test('a range whose bound comes from a reply is checked with the value it has', async (t) => {
  const r = run('{% $count([1..$steps.quote.limit]) %}', scopeWith({}, { quote: { limit: 1e12 } }));
  t.equal(r.ok, false);
  if (!r.ok) t.match(r.error, 'the range [1..1000000000000] would hold');
});

t.test('a tail-recursive loop up to a number from a reply ({"limit": 1e12}) runs into the deadline', async (t) => {
  const source = '{% ($loop := function($i) { $i < $steps.quote.limit ? $loop($i + 1) : $i }; $loop(0)) %}';
  const r = run(source, scopeWith({}, { quote: { limit: 1e12 } }));
  t.equal(r.ok, false);
  if (!r.ok) t.match(r.error, /stopped: it ran longer than 50 ms/);
  t.same(run(source, scopeWith({}, { quote: { limit: 10 } })), { ok: true, value: 10 }, 'the same expression with a small limit works');
});

t.test('a recursion without end is stopped by the depth limit', async (t) => {
  // JSONata's nested generators make each level cost more than the last: with the default
  // timeout the deadline comes first, so give the depth limit room to show.
  setExpressionLimits({ timeoutMs: 60_000 });
  const r = run('{% ($f := function($n) { 1 + $f($n + 1) }; $f(0)) %}', scopeWith({}));
  t.equal(r.ok, false);
  if (!r.ok) t.match(r.error, /stopped: it nested deeper than 500 levels/);
});

t.test('strings and arrays that grow past the size limits are stopped', async (t) => {
  setExpressionLimits({ maxChars: 1000, maxItems: 50 });
  const grow = run('{% ($g := function($s) { $g($s & $s) }; $g("ab")) %}', scopeWith({}));
  t.equal(grow.ok, false);
  if (!grow.ok) t.match(grow.error, /it built a string of \d+ characters, more than the 1000 allowed/);
  const pad = run('{% $pad("x", 100000000) %}', scopeWith({}));
  t.equal(pad.ok, false);
  if (!pad.ok) t.match(pad.error, '$pad to 100000000 characters is more than the 1000 allowed');
  const arr = run('{% $append($input.a, $input.a) %}', scopeWith({ a: Array.from({ length: 40 }, (_, i) => i) }));
  t.equal(arr.ok, false);
  if (!arr.ok) t.match(arr.error, 'it built an array of 80 items, more than the 50 allowed');
});

t.test('the timeout follows setExpressionLimits', async (t) => {
  setExpressionLimits({ timeoutMs: 1 });
  t.equal(expressionLimits().timeoutMs, 1);
  t.equal(expressionLimits().maxDepth, DEFAULT_EXPRESSION_LIMITS.maxDepth, 'the others keep their defaults');
  const r = run('{% ($l := function($i) { $i < 1e12 ? $l($i + 1) : $i }; $l(0)) %}', scopeWith({}));
  t.equal(r.ok, false);
  if (!r.ok) t.match(r.error, 'it ran longer than 1 ms');
});

t.test('one native call that ran far past the limit (a regular expression that backtracks) is named as such', async (t) => {
  // The wall-clock bound is 20 times the limit: 20 ms here; this match backtracks for hundreds of ms.
  setExpressionLimits({ timeoutMs: 1 });
  const r = run('{% $match($input.s, /(a+)+$/) %}', scopeWith({ s: `${'a'.repeat(22)}b` }));
  t.equal(r.ok, false);
  if (!r.ok) {
    t.match(r.error, /stopped: it ran longer than 1 ms and was stopped \(the limit is SAGA_EXPR_TIMEOUT\); one call in it ran \d+ ms before it could be stopped \(a native call such as a regular expression that backtracks runs to its end: keep \$match, \$replace and \$split patterns simple\)$/);
  }
  const loop = run('{% ($l := function($i) { $i < 1e12 ? $l($i + 1) : $i }; $l(0)) %}', scopeWith({}));
  if (!loop.ok) t.match(loop.error, /an expression must not loop over data$/, 'a loop is checked between its steps: no single call is blamed');
  t.equal(loop.ok, false);
});

t.test('an evaluation error thrown from Expr.evaluate is an ExpressionEvaluationError', async (t) => {
  t.throws(() => compileExpr('{% [1..10000000] %}').evaluate(scopeWith({})), ExpressionEvaluationError);
});

t.test('$distinct keeps JSONata\'s result on large inputs and refuses too many objects', async (t) => {
  const values = Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? { n: i % 7 } : i % 11 === 0 ? null : `v${i % 50}`));
  const expected: unknown = jsonata('$distinct($input)').evaluate(null, { input: values });
  t.same(run('{% $distinct($input) %}', scopeWith(values)), { ok: true, value: expected }, 'same items in the same order');
  const objects = Array.from({ length: 3000 }, (_, i) => ({ i }));
  const r = run('{% $distinct($input) %}', scopeWith(objects));
  t.equal(r.ok, false);
  if (!r.ok) t.match(r.error, '$distinct was given 3000 objects to compare, more than the 2000 allowed');
});

t.test('ordinary expressions are unaffected', async (t) => {
  const input = { items: [{ sku: 'a', quantity: 2 }, { sku: 'b', quantity: 3 }], orderId: 'o-1' };
  t.same(run('{% $sum($input.items.quantity) %}', scopeWith(input)), { ok: true, value: 5 });
  t.same(run('{% $pad($input.orderId, 6, "#") %}', scopeWith(input)), { ok: true, value: 'o-1###' });
  t.same(run('{% $distinct([1, 2, 1, "a", "a"]) %}', scopeWith(input)), { ok: true, value: [1, 2, 'a'] });
  t.same(run('{% ($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(10)) %}', scopeWith(input)), { ok: true, value: 10 }, 'bounded recursion works');
});

t.test('the time limit counts CPU: a pause of the process (a loaded machine) does not stop an evaluation, work does', async (t) => {
  const limits = { ...DEFAULT_EXPRESSION_LIMITS, timeoutMs: 30 };
  const node = jsonata('1').ast();
  const hooks = (b: Record<string, unknown>) => b as { __evaluate_entry: () => void; __evaluate_exit: (e: unknown, i: unknown, env: unknown, r: unknown) => void };
  // Asleep without using CPU for three times the limit, as a process the scheduler left waiting.
  const paused = hooks(guardBindings(limits, rangeSides(node)));
  paused.__evaluate_entry();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 90);
  t.doesNotThrow(() => paused.__evaluate_exit(node, undefined, undefined, 1), 'paused 90 ms: not stopped');
  // Busy for three times the limit, in CPU time (the machine may share its cores): stopped.
  const busy = hooks(guardBindings(limits, rangeSides(node)));
  busy.__evaluate_entry();
  const cpuStart = process.cpuUsage();
  const cpuMs = () => { const u = process.cpuUsage(cpuStart); return (u.user + u.system) / 1000; };
  while (cpuMs() < 90) { /* spin */ }
  t.throws(() => busy.__evaluate_exit(node, undefined, undefined, 1), ExpressionLimitError, 'busy 90 ms of CPU: stopped');
  // Past 20 times the limit in wall-clock time it is stopped however little CPU it had.
  const stalled = hooks(guardBindings({ ...limits, timeoutMs: 5 }, rangeSides(node)));
  stalled.__evaluate_entry();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120);
  t.throws(() => stalled.__evaluate_exit(node, undefined, undefined, 1), ExpressionLimitError, 'paused 120 ms past a 5 ms limit: stopped');
});
