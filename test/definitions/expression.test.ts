import t from 'tap';
import type { ExprScope } from '../../engine/core/definition.js';
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
