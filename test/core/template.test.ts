import jsonata from 'jsonata';
import t from 'tap';
import type { Expr, ExprScope, Template } from '../../engine/core/definition.js';
import { evaluate, renderTemplate, truthy } from '../../engine/core/template.js';
import { compileExpr } from '../../engine/definitions/expression.js';
import { setExpressionLimits } from '../../engine/definitions/expression-limits.js';

// Results must not depend on the machine's load: no wall-clock limit on one evaluation.
setExpressionLimits({ timeoutMs: 60_000 });

/** Payload templates and conditions, rendered against an instance's data (DESIGN section 2, expressions). */
const scope: ExprScope = {
  input: { orderId: 'o-1', items: [{ sku: 'a', qty: 2 }], note: null },
  steps: { reserve: { reservationId: 'r-9' } },
  saga: { id: 's-1', key: 'o-1', name: 'order', correlationId: 'c-1' },
  event: null,
};
const expr = (source: string): Template => ({ kind: 'expr', expr: compileExpr(source) });
const lit = (value: unknown): Template => ({ kind: 'literal', value });

t.test('objects and arrays render each leaf; literals stay as they are', async (t) => {
  const tpl: Template = {
    kind: 'object',
    entries: [
      ['orderId', expr('{% $input.orderId %}')],
      ['fixed', lit({ currency: 'EUR' })],
      ['lines', { kind: 'array', items: [expr('{% $input.items[0].sku %}'), lit(3), expr('{% $steps.reserve.reservationId %}')] }],
      ['who', expr('{% $saga.key & "/" & $saga.id %}')],
    ],
  };
  t.same(renderTemplate(tpl, scope), { ok: true, value: { orderId: 'o-1', fixed: { currency: 'EUR' }, lines: ['a', 3, 'r-9'], who: 'o-1/s-1' } });
  t.same(renderTemplate({ kind: 'array', items: [] }, scope), { ok: true, value: [] });
});

t.test('a key whose expression finds nothing is left out; null is kept', async (t) => {
  const tpl: Template = { kind: 'object', entries: [['missing', expr('{% $input.nope %}')], ['none', expr('{% $input.note %}')], ['here', lit(1)]] };
  const r = renderTemplate(tpl, scope);
  t.same(r, { ok: true, value: { none: null, here: 1 } });
  t.notOk(r.ok && Object.hasOwn(r.value as object, 'missing'), 'no undefined key in the JSON');
});

t.test('the first failing expression is the result, in an object or an array', async (t) => {
  const failing = expr('{% $error("no stock") %}');
  const inObject = renderTemplate({ kind: 'object', entries: [['ok', lit(1)], ['bad', failing], ['later', expr('{% $error("second") %}')]] }, scope);
  t.match(inObject, { ok: false, error: /no stock/ });
  t.notMatch(inObject.ok ? '' : inObject.error, /second/);
  const inArray = renderTemplate({ kind: 'array', items: [lit(1), failing] }, scope);
  t.match(inArray, { ok: false, error: /no stock/ });
});

t.test('an evaluation error names the expression', async (t) => {
  const thrower: Expr = { source: '$boom()', evaluate: () => { throw new Error('it broke'); } };
  t.same(evaluate(thrower, scope), { ok: false, error: 'expression $boom() failed: it broke' });
  const naming: Expr = { source: '$x', evaluate: () => { throw new Error('bad $x here'); } };
  t.same(evaluate(naming, scope), { ok: false, error: 'bad $x here' }, 'kept as it is when it already names it');
  const text: Expr = { source: '$y', evaluate: () => { throw 'plain'; } };
  t.same(evaluate(text, scope), { ok: false, error: 'expression $y failed: plain' });
});

t.test('truthy follows JSONata: false, null, undefined, 0, empty string, empty objects, functions and arrays of falsy values are false', async (t) => {
  t.same([false, null, undefined, 0, NaN, '', [], [0, ''], [[false]], {}, [{}], () => 1].map(truthy), Array(12).fill(false));
  t.same([true, 1, 'x', { a: 0 }, [0, 1], [[1]], [{ a: null }]].map(truthy), Array(7).fill(true));
});

t.test('truthy agrees with JSONata\'s own $boolean on every kind of value', async (t) => {
  const lambda = await jsonata('function($x) { $x }').evaluate(null) as unknown;
  const builtin = await jsonata('$string').evaluate(null) as unknown;
  const values: unknown[] = [false, true, null, 0, 1, -0, '', 'x', [], [0], [1], [[]], [[1]], {}, { a: 1 }, [{}], [{ a: 1 }], [null, 'x'], lambda, builtin];
  for (const v of values) {
    const expected = await jsonata('$boolean($v)').evaluate(null, { v }) as boolean;
    t.equal(truthy(v), expected, JSON.stringify(v) ?? String(v));
  }
});
