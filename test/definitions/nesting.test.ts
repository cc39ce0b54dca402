/**
 * Data or an expression nested deeper than the loader reads (MAX_NESTING, 200 levels) is a
 * definition error at its line, not a stack overflow: a chain of aliases can nest a 10 KB file
 * 5,000 levels deep, and sagad would die at start instead of refusing the file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { FileContext } from '../../engine/definitions/context.js';
import { compileSagaSource, formatDefinitionError, loadDefinitionsFile, loadDefinitionsText } from '../../engine/definitions/index.js';
import { MAX_NESTING } from '../../engine/definitions/nesting.js';
import { parseYamlFile } from '../../engine/definitions/parse-file.js';
import { positionOf } from './fixtures/saga-yaml.js';

/** A saga whose one command has `payload` as written. */
const withPayload = (payload: string): string => `sagas:
  - name: s
    defaults: { timeout: 5s }
    steps:
      - name: a
        pivot: true
        command:
          subject: a.cmd
          type: Do
          payload:
${payload}
        reply: { subject: a.evt, success: [Done] }
`;

/** The shape of the reviewer's deep.yaml: ten anchors of 500 brackets, each holding the one before. */
function chainedAnchors(levels: number, width: number): string {
  const lines = Array.from({ length: levels }, (_, i) =>
    `            x${i}: &a${i} ${'['.repeat(width)}${i === 0 ? '1' : `*a${i - 1}`}${']'.repeat(width)}`);
  return withPayload(lines.join('\n'));
}

t.equal(MAX_NESTING, 200);

t.test('data nested 5,000 levels deep through chained anchors is refused at its line', async (t) => {
  const text = chainedAnchors(10, 500);
  t.ok(text.length < 11_000, 'about 10 KB');
  const dir = t.testdir({});
  const file = join(dir, 'deep.yaml');
  writeFileSync(file, text);
  const r = loadDefinitionsFile(file);
  const at = positionOf(text, 'x9: &a9 [');
  t.match(r, {
    ok: false,
    errors: [{ file, line: at.line, path: /^sagas\[0\]\.steps\[0\]\.command\.payload\.x9\[0\]\[0\]\[0\]\[0\]\[0\]\.\.\.$/, message: 'the data nests 5,007 levels deep here; at most 200 are read', hint: /^nest the data less deeply; a value repeated by an alias/ }],
  });
  if (!r.ok) {
    t.equal(r.errors.length, 1);
    t.match(formatDefinitionError(r.errors[0] as never), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${at.line}:\\d+: sagas\\[0\\]`), 'FILE:LINE:COLUMN first, as sagad and sagactl print it');
  }
});

t.test('the limit is on the depth from the top of the file: 200 levels load, 201 do not', async (t) => {
  // The payload's field sits at level 8 (root, sagas, [0], steps, [0], command, payload, x).
  const nested = (brackets: number) => withPayload(`            x: ${'['.repeat(brackets)}1${']'.repeat(brackets)}`);
  t.match(loadDefinitionsText(nested(MAX_NESTING - 7), 'defs.yaml'), { ok: true });
  t.match(loadDefinitionsText(nested(MAX_NESTING - 6), 'defs.yaml'), { ok: false, errors: [{ line: 11, message: /^the data nests 201 levels deep here/ }] });
});

t.test('brackets nested past what the YAML parser can read are one error at their line', async (t) => {
  const text = withPayload(`            x: ${'['.repeat(3000)}1${']'.repeat(3000)}`);
  const r = loadDefinitionsText(text, 'defs.yaml');
  t.match(r, { ok: false, errors: [{ line: 11, path: '', message: 'the YAML nests too deeply to read (Maximum call stack size exceeded)', hint: 'nest the YAML less deeply: at most 200 levels are read' }] });
  if (!r.ok) t.equal(r.errors.length, 1, 'not once per bracket left open');
});

t.test('a cases file (or any YAML the loader reads) is measured the same way', async (t) => {
  const r = parseYamlFile(`cases:\n  - x: &a ${'['.repeat(150)}1${']'.repeat(150)}\n    y: [*a, *a]\n    z: ${'['.repeat(60)}*a${']'.repeat(60)}\n`, 'cases.yaml');
  t.equal(r.ok, false);
  // Level 201 of the deepest branch (through z) is written in the anchor, on line 2.
  t.match(r.ctx.errors, [{ file: 'cases.yaml', line: 2, path: /^cases\[0\]\.z\[0\]\[0\]/, message: /^the data nests 213 levels deep here/ }]);
});

t.test('an expression of 1,000 nested parentheses is refused at its line (the reviewer\'s parens.yaml)', async (t) => {
  // The reviewer's file has 2,000; under tap's loaders JSONata's own parser runs out of stack
  // first there, which the next assertion covers.
  const text = withPayload(`            x: "{% ${'('.repeat(1000)}1${')'.repeat(1000)} %}"`);
  const r = loadDefinitionsText(text, 'parens.yaml');
  const at = positionOf(text, '"{%');
  t.match(r, { ok: false, errors: [{ file: 'parens.yaml', line: at.line, column: at.column, path: 'sagas[0].steps[0].command.payload.x', message: 'the expression nests 1,001 levels deep; at most 200 are read', hint: /fewer nested parentheses/ }] });
  // Deeper still, JSONata's own parser runs out of stack: the same error, without the figure.
  const deeper = loadDefinitionsText(withPayload(`            x: "{% ${'('.repeat(30_000)}1${')'.repeat(30_000)} %}"`), 'parens.yaml');
  t.match(deeper, { ok: false, errors: [{ line: at.line, path: 'sagas[0].steps[0].command.payload.x', message: 'the expression nests too deeply for JSONata to parse; at most 200 levels are read' }] });
});

t.test('an expression nested 200 levels loads; 201 do not', async (t) => {
  // n parentheses around a number: n block nodes and the number.
  const expr = (n: number) => withPayload(`            x: "{% ${'('.repeat(n)}1${')'.repeat(n)} %}"`);
  t.match(loadDefinitionsText(expr(MAX_NESTING - 1), 'defs.yaml'), { ok: true });
  t.match(loadDefinitionsText(expr(MAX_NESTING), 'defs.yaml'), { ok: false, errors: [{ message: 'the expression nests 201 levels deep; at most 200 are read' }] });
});

t.test('a stored definition nested too deeply is an error of the source, not a crash', async (t) => {
  const definition = `{"name":"s","defaults":{"timeout":"5s"},"steps":[{"name":"a","pivot":true,"command":{"subject":"a.cmd","type":"Do","payload":{"x":${'['.repeat(5000)}1${']'.repeat(5000)}}},"reply":{"subject":"a.evt","success":["Done"]}}]}`;
  const r = compileSagaSource(`{"definition":${definition},"schemaFiles":{}}`);
  t.match(r, { ok: false, errors: [{ file: '<stored definition>', path: /^definition\.steps\[0\]\.command\.payload\.x\[0\]/, message: 'the saga nests 5,005 levels deep here; at most 200 are read' }] });
});

t.test('a RangeError no check foresaw is reported at the part being compiled', async (t) => {
  const { ctx } = parseYamlFile('sagas:\n  - name: s\n    steps: []\n', 'defs.yaml');
  t.equal(ctx.guarded(['sagas', 0], () => { throw new RangeError('Maximum call stack size exceeded'); }), null);
  t.match(ctx.errors, [{ file: 'defs.yaml', line: 2, path: 'sagas[0]', message: 'the loader could not check this part: Maximum call stack size exceeded' }]);
  t.throws(() => ctx.guarded(['sagas', 0], () => { throw new TypeError('a bug'); }), TypeError, 'anything else is a bug, and thrown');
  t.ok(ctx instanceof FileContext);
});
