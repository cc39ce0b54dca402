import t from 'tap';
import { compilePayloadSchema } from '../../engine/definitions/index.js';
import { schemaWarnings } from '../../engine/definitions/schema-warnings.js';
import { sagasOf } from './fixtures/saga-yaml.js';

/**
 * The schemas' patterns run on RE2 (engine/definitions/payload-schemas.ts): time linear in the
 * text, so a message cannot make a pattern backtrack with the event loop held. A pattern only
 * JavaScript's engine runs (lookaround, a backreference) still works, and validate warns.
 */
t.test('a pattern that backtracks exponentially in JavaScript is checked in linear time', async (t) => {
  const check = compilePayloadSchema({ type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } });
  // 2^60 steps for JavaScript's RegExp: this test would not end.
  t.equal(check({ s: `${'a'.repeat(60)}b` }), 'payload/s must match pattern "^(a+)+$"');
  t.equal(check({ s: 'a'.repeat(60) }), null);
  t.equal(check.backtracking, undefined, 'nothing left to the backtracking engine');
  const keys = compilePayloadSchema({ type: 'object', patternProperties: { '^(x+)+$': { type: 'number' } } });
  t.equal(keys({ [`${'x'.repeat(60)}`]: 1 }), null, 'patternProperties too');
  t.match(keys({ xxx: 'one' }), /must be number/);
  t.equal(keys({ [`${'x'.repeat(60)}y`]: 'any' }), null, 'a key the pattern does not match, at once');
});

t.test('the semantics of a JSON Schema pattern: found anywhere unless anchored, Unicode classes', async (t) => {
  const check = compilePayloadSchema({ type: 'object', properties: { a: { type: 'string', pattern: 'b+' }, u: { type: 'string', pattern: '^\\p{L}+$' } } });
  t.equal(check({ a: 'abba', u: 'héllo' }), null);
  t.match(check({ a: 'acca', u: 'h3llo' }), /payload\/a must match pattern "b\+".*payload\/u must match pattern/);
});

t.test('RE2 runs a pattern with ECMA-262\'s meaning: \\s, \\S, . and \\u as JavaScript reads them', async (t) => {
  const cases: [string, string, boolean][] = [
    ['^\\S+$', 'a\u00a0b', false], ['^\\S+$', 'a\u000bb', false], ['^\\S+$', 'ab', true],
    ['^.+$', 'a\rb', false], ['^.+$', 'a\u2028b', false], ['^.+$', 'ab', true],
    ['^[^\\u0000-\\u001f]*$', 'ab', true], ['^[^\\u0000-\\u001f]*$', 'a\nb', false],
    ['^\\u{1F600}$', '\u{1F600}', true], ['^[\\s,]+$', ' ,\u3000', true], ['^[\\s,]+$', ' ,x', false],
  ];
  for (const [pattern, text, matches] of cases) {
    const check = compilePayloadSchema({ type: 'string', pattern });
    // Escaped: a raw U+2028 in a message would break the TAP line.
    const shown = text.replace(/[^\x20-\x7e]/gu, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
    t.equal(check(text) === null, matches, `${pattern} against ${shown}`);
    t.equal(check.backtracking, undefined, `${pattern}: run by RE2`);
  }
});

t.test('a pattern JSON Schema\'s dialect does not allow is refused, though RE2 would take it', async (t) => {
  for (const pattern of ['\\Aabc', '(?i)abc', '^\\Qa.b\\E$', '^\\-$']) {
    t.throws(() => compilePayloadSchema({ type: 'string', pattern }), /pattern|Invalid regular expression/, pattern);
  }
});

t.test('a pattern with lookaround or a backreference falls back to JavaScript, and validate warns about it', async (t) => {
  for (const pattern of ['.{1,5000}', '\\cJ', '[^]', '(?<=a)b']) {
    t.same(compilePayloadSchema({ type: 'string', pattern }).backtracking, [pattern], `${pattern}: RE2 cannot run it alike`);
  }
  const check = compilePayloadSchema({ type: 'object', properties: { t: { type: 'string', pattern: '^(?=x)x+$' }, d: { type: 'string', pattern: '^(a)\\1$' } } });
  t.equal(check({ t: 'xx', d: 'aa' }), null);
  t.match(check({ t: 'yx', d: 'ab' }), /payload\/t must match pattern.*payload\/d must match pattern/);
  t.same(check.backtracking, ['^(?=x)x+$', '^(a)\\1$']);
  const [saga] = sagasOf(`
version: 1
sagas:
  - name: s
    schemas:
      Ok@1: { type: object, properties: { t: { type: string, pattern: "^(?=x)x+$" } } }
    steps:
      - name: a
        pivot: true
        timeout: 5s
        command: { subject: a.c, type: A, payload: {} }
        reply: { subject: a.r, success: [Ok] }
`);
  if (saga === undefined) throw new Error('no saga');
  t.same(schemaWarnings(saga), [{
    where: 'schemas.Ok@1',
    message: 'the pattern /^(?=x)x+$/ runs on JavaScript\'s backtracking engine, as RE2 cannot run it with the same meaning (lookaround, a backreference, \\c, a repeat over 1000): a message can make its check run for minutes, holding sagad; write it without them if you can',
  }]);
});

t.test('a pattern neither engine can read is an invalid schema, as before', async (t) => {
  t.throws(() => compilePayloadSchema({ type: 'string', pattern: '(' }), /pattern|Invalid regular expression/);
});
