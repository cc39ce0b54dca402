/**
 * Errors located through aliases: each used to cost a walk of the whole document (yaml's
 * `Alias.resolve`), so a file of thousands of aliased steps with errors, in a few thousand
 * sagas, took minutes to load and blocked the event loop during a reload. The source map now
 * resolves every alias from one walk.
 */
import t, { type Test } from 'tap';
import { Alias, LineCounter, parseDocument } from 'yaml';
import { loadDefinitionsText } from '../../engine/definitions/index.js';
import { SourceMap } from '../../engine/definitions/source-map.js';

/** Counts the calls of yaml's `Alias.resolve` that walk the whole document (those without toJS's cache). */
function countDocumentWalks(t: Test): () => number {
  const original = Object.getOwnPropertyDescriptor(Alias.prototype, 'resolve')?.value as (this: Alias, ...args: unknown[]) => unknown;
  let walks = 0;
  Alias.prototype.resolve = function (this: Alias, ...args: unknown[]) {
    const ctx = args[1] as { aliasResolveCache?: unknown } | undefined;
    if (ctx?.aliasResolveCache === undefined) walks++;
    return original.apply(this, args);
  } as typeof Alias.prototype.resolve;
  t.teardown(() => {
    Alias.prototype.resolve = original as typeof Alias.prototype.resolve;
  });
  return () => walks;
}

t.test('a step repeated by 1,500 aliases among 500 sagas loads with all its errors, located, in one walk', async (t) => {
  const aliases = 1500;
  const padding = 500;
  let text = `sagas:
  - name: s
    steps:
      - &bad { name: a, command: { subject: a.cmd, type: Do }, reply: { subject: a.evt, success: [Ok] } }
`;
  for (let i = 0; i < aliases; i++) text += '      - *bad\n';
  for (let i = 0; i < padding; i++) text += `  - { name: p${i}, steps: [ { name: d, delay: { for: 1s } } ] }\n`;
  const walks = countDocumentWalks(t);
  const r = loadDefinitionsText(text, 'aliases.yaml');
  t.equal(r.ok, false);
  if (r.ok) return;
  // The anchored step has no timeout and no compensate; each alias repeats both, and its name.
  t.equal(r.errors.length, 2 + 3 * aliases);
  const lines = text.split('\n').length;
  t.ok(r.errors.every((e) => Number.isInteger(e.line) && e.line >= 1 && e.line <= lines && e.column >= 1), 'every error has a line in the file');
  const noTimeout = r.errors.filter((e) => e.message === 'step `a` has no timeout');
  t.same(noTimeout.map((e) => e.line), Array.from({ length: aliases + 1 }, (_, i) => 4 + i), 'each alias is reported on its own line');
  t.match(r.errors.find((e) => e.path === `sagas[0].steps[${aliases}].name`), { line: 4, message: 'step name `a` is used twice in saga `s`', hint: 'the first `a` is at line 4; give each step its own name' }, 'a field inside an alias is located in its anchor');
  // yaml's toJS resolves all aliases from one walk of its own; before, every located error through an alias walked the document again.
  t.ok(walks() <= 1, `the document was walked ${walks()} times`);
});

t.test('an alias refers to the latest anchor of its name before it, as yaml reads it', async (t) => {
  const text = 'a: &x { k: 1 }\nb: *x\nc: &x { k: 2 }\nd: *x\ne: [&y 1, *y, &y { k: 3 }, *y]\n';
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const map = new SourceMap(doc, lines);
  t.equal(map.position(['b', 'k']).line, 1);
  t.equal(map.position(['d', 'k']).line, 3);
  t.same(map.position(['e', 3, 'k']), { line: 5, column: 23 });
  t.same(doc.toJS(), { a: { k: 1 }, b: { k: 1 }, c: { k: 2 }, d: { k: 2 }, e: [1, 1, { k: 3 }, { k: 3 }] }, 'yaml reads it the same way');
});
