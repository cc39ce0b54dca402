import fc from 'fast-check';
import jsonata from 'jsonata';
import t from 'tap';
import type { ExprScope } from '../../engine/core/definition.js';
import { plainPath, UNSURE, walk } from '../../engine/definitions/expression.js';
import { compileExpr, ExpressionEvaluationError, ExpressionSyntaxError } from '../../engine/definitions/index.js';

const scope: ExprScope = {
  input: { orderId: 'o-1', items: [{ sku: 'a', quantity: 2 }, { sku: 'b', quantity: 3 }] },
  steps: { 'reserve-inventory': { reservationId: 'r-9' } },
  saga: { id: 'i-1', key: 'o-1', name: 'order-fulfillment', correlationId: 'c-1' },
  event: { eventType: 'OrderPlaced' },
};

t.test('evaluates with $input, $steps, $saga and $event bound', async (t) => {
  t.equal(compileExpr('{% $input.orderId %}').evaluate(scope), 'o-1');
  t.equal(compileExpr('$input.orderId').evaluate(scope), 'o-1', 'bare JSONata is accepted too');
  t.equal(compileExpr('{% $steps.`reserve-inventory`.reservationId %}').evaluate(scope), 'r-9');
  t.equal(compileExpr('{% $sum($input.items.quantity) %}').evaluate(scope), 5);
  t.equal(compileExpr('{% $saga.name & "/" & $saga.key %}').evaluate(scope), 'order-fulfillment/o-1');
  t.equal(compileExpr('{% $event.eventType %}').evaluate(scope), 'OrderPlaced');
});

t.test('the root is the context document', async (t) => {
  const match = compileExpr('{% payload.orderId = $input.orderId %}');
  t.equal(match.evaluate(scope, { payload: { orderId: 'o-1' } }), true);
  t.equal(match.evaluate(scope, { payload: { orderId: 'o-2' } }), false);
  t.equal(compileExpr('{% $ %}').evaluate(scope), null, 'no root means null');
});

t.test('source is the JSONata inside the braces', async (t) => {
  t.equal(compileExpr('  {%  $input.orderId  %} ').source, '$input.orderId');
});

t.test('a syntax error throws ExpressionSyntaxError with a position', async (t) => {
  const err = t.throws(() => compileExpr('{% $input.( %}')) as ExpressionSyntaxError;
  t.type(err, ExpressionSyntaxError);
  t.equal(err.code, 'SAGA_ERR_EXPRESSION_SYNTAX');
  t.type(err.position, 'number');
  t.match(err.message, /\$input\.\(/);
  t.throws(() => compileExpr('{%  %}'), ExpressionSyntaxError, 'an empty expression');
});

t.test('an evaluation error throws a readable Error naming the expression', async (t) => {
  const expr = compileExpr('{% $number($input.orderId) %}');
  const err = t.throws(() => expr.evaluate(scope)) as Error;
  t.type(err, Error);
  t.type(err, ExpressionEvaluationError);
  t.equal((err as ExpressionEvaluationError).code, 'SAGA_ERR_EXPRESSION_EVALUATION');
  t.match(err.message, '$number($input.orderId)');
  t.match(err.message, /failed/);
});

t.test('impure functions are not allowed', async (t) => {
  for (const fn of ['$now()', '$millis()', '$random()', '$shuffle([1,2])', '$eval("1")']) {
    const err = t.throws(() => compileExpr(`{% ${fn} %}`).evaluate(scope), fn) as Error;
    t.match(err.message, /not allowed in saga expressions/, fn);
  }
});

t.test('evaluation is deterministic and does not change the scope', async (t) => {
  const expr = compileExpr('{% $merge([$input, {"extra": true}]) %}');
  const before = JSON.stringify(scope);
  t.same(expr.evaluate(scope), expr.evaluate(scope));
  t.equal(JSON.stringify(scope), before);
});

t.test('plain paths take a shortcut past JSONata and give exactly what JSONata gives', async (t) => {
  // Random JSON data and random `$var.a.b` paths over a small set of names, so that paths
  // hit objects, arrays (of none, one, several), nulls, scalars and missing fields.
  const names = ['a', 'b', 'c', 'items', 'constructor'];
  const json = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null),
      fc.array(tie('value'), { maxLength: 3 }),
      { arbitrary: fc.dictionary(fc.constantFrom(...names), tie('value'), { minKeys: 2, maxKeys: 5 }), weight: 6 }),
  })).value;
  const scopeArb = fc.record({
    input: json, steps: fc.dictionary(fc.constantFrom(...names), json, { maxKeys: 4 }), event: json,
    saga: fc.constant({ id: 'i-1', key: null, name: 's', correlationId: 'c-1' }),
  });
  const pathArb = fc.tuple(fc.constantFrom('input', 'steps', 'saga', 'event'), fc.array(fc.constantFrom(...names, 'id', 'name'), { minLength: 1, maxLength: 3 }));
  let shortcut = 0;
  fc.assert(fc.property(scopeArb, pathArb, (s, [variable, names]) => {
    const text = `$${variable}.${names.map((n) => `\`${n}\``).join('.')}`;
    const fast = compileExpr(text);
    const path = plainPath(jsonata(text).ast());
    if (path === null) throw new Error(`${text} is not taken for a plain path`);
    const reference = jsonata(text).evaluate(null, s);
    const got = fast.evaluate(s as ExprScope);
    const walked = walk(s as ExprScope, path);
    if (walked !== UNSURE) {
      shortcut++;
      t.equal(walked, reference, `${text}: the shortcut gives JSONata's value itself`);
    }
    // JSONata marks its sequences with a `sequence` property; compare what a payload would carry.
    t.same(JSON.stringify(got), JSON.stringify(reference), text);
    t.equal(Array.isArray(got), Array.isArray(reference), `${text}: an array exactly when JSONata gives one`);
  }), { numRuns: 2000 });
  t.ok(shortcut > 50, `the shortcut answered ${shortcut} of 2000 (about 200 expected)`);
  for (const [text, want] of [['$input.orderId', 'o-1'], ['$input.items', scope.input && (scope.input as { items: unknown }).items], ['$steps.`reserve-inventory`.reservationId', 'r-9']] as const) {
    const path = plainPath(jsonata(text).ast());
    t.equal(path === null ? 'no path' : walk(scope, path), want, `${text} (as in the example saga) takes the shortcut`);
  }
  for (const text of ['$input.items[0]', '$sum($input.items.quantity)', '$input', '$.a', '$other.a', '$input.a ? 1 : 2']) {
    t.equal(plainPath(jsonata(text).ast()), null, `${text} is left to JSONata`);
  }
});
