import { join } from 'node:path';
import t from 'tap';
import { compileSagaSource, loadDefinitionsFile, loadDefinitionsText } from '../../engine/definitions/index.js';
import { commandYaml, positionOf, sagaYaml } from './fixtures/saga-yaml.js';

const saga = (name: string): string => sagaYaml(commandYaml('a')).replace('name: s', `name: ${name}`);

t.test('a missing file is an error at line 1', async (t) => {
  const r = loadDefinitionsFile('/nonexistent/defs.yaml');
  t.match(r, { ok: false, errors: [{ file: '/nonexistent/defs.yaml', line: 1, column: 1, message: /cannot read the definitions file: .*ENOENT/ }] });
});

t.test('includes load recursively and list every file read', async (t) => {
  const dir = t.testdir({
    'root.yaml': 'include: [sagas/a.yaml]\n',
    sagas: {
      'a.yaml': `include: [b.yaml]\n${saga('one')}`,
      'b.yaml': `${saga('two').replace('    steps:', '    schemas: { Do: schemas/do.json }\n    steps:')}`,
      schemas: { 'do.json': '{ "type": "object" }' },
    },
  });
  const r = loadDefinitionsFile(join(dir, 'root.yaml'));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  t.same(r.sagas.map((s) => s.name).sort(), ['one', 'two']);
  t.same(r.files, ['root.yaml', 'sagas/a.yaml', 'sagas/b.yaml', 'sagas/schemas/do.json'].map((f) => join(dir, f)));
  t.equal(r.sagas.find((s) => s.name === 'two')?.schemas['Do@1']?.({}), null);
});

t.test('an include cycle is an error at the include that closes it', async (t) => {
  const dir = t.testdir({ 'a.yaml': 'include: [b.yaml]\n', 'b.yaml': 'sagas: []\ninclude:\n  - a.yaml\n' });
  const r = loadDefinitionsFile(join(dir, 'a.yaml'));
  t.match(r, { ok: false, errors: [{ file: join(dir, 'b.yaml'), line: 3, column: 5, path: 'include[0]', message: /^include cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml$/ }] });
});

t.test('a file included twice without a cycle loads once', async (t) => {
  const dir = t.testdir({ 'root.yaml': 'include: [a.yaml, b.yaml]\n', 'a.yaml': 'include: [c.yaml]\n', 'b.yaml': 'include: [c.yaml]\n', 'c.yaml': saga('only') });
  const r = loadDefinitionsFile(join(dir, 'root.yaml'));
  t.match(r, { ok: true, sagas: [{ name: 'only' }] });
});

t.test('saga names are unique across includes, and the error names both places', async (t) => {
  const dir = t.testdir({ 'root.yaml': `include: [other.yaml]\n${saga('same')}`, 'other.yaml': `# another file\n${saga('same')}` });
  const r = loadDefinitionsFile(join(dir, 'root.yaml'));
  t.match(r, {
    ok: false,
    errors: [{ file: join(dir, 'other.yaml'), line: 3, column: 11, path: 'sagas[0].name', message: `saga name \`same\` is already used at ${join(dir, 'root.yaml')}:3` }],
  });
});

t.test('an include that cannot be read', async (t) => {
  const dir = t.testdir({ 'root.yaml': 'include:\n  - missing.yaml\n' });
  t.match(loadDefinitionsFile(join(dir, 'root.yaml')), { ok: false, errors: [{ line: 2, path: 'include[0]', message: /cannot read the included file `missing.yaml`/ }] });
});

t.test('schema files: a bad path, a file that is not JSON, a schema that does not compile', async (t) => {
  const dir = t.testdir({ 'broken.json': '{ "type": ', 'wrong.json': '{ "type": "nonsense" }' });
  const text = sagaYaml(commandYaml('a'), [
    '    schemas:',
    '      Missing@1: schemas/missing.json',
    '      Broken@1: broken.json',
    '      Wrong@2: wrong.json',
    '      Inline: { type: object, required: 5 }',
  ].join('\n'));
  const r = loadDefinitionsText(text, join(dir, 'defs.yaml'));
  if (r.ok) throw new Error('expected errors');
  t.same(r.errors.map((e) => [e.line, e.path]), [
    [positionOf(text, 'schemas/missing').line, 'sagas[0].schemas["Missing@1"]'],
    [positionOf(text, 'broken.json').line, 'sagas[0].schemas["Broken@1"]'],
    [positionOf(text, 'wrong.json').line, 'sagas[0].schemas["Wrong@2"]'],
    [positionOf(text, 'Inline').line, 'sagas[0].schemas.Inline'],
  ]);
  t.match(r.errors[0], { column: positionOf(text, 'schemas/missing').column, message: /cannot read the schema file `schemas\/missing.json`: .*ENOENT/ });
  t.match(r.errors[1], { message: /the schema file `broken.json` is not JSON/ });
  t.match(r.errors[2], { message: /the schema file `wrong.json` is not a valid JSON Schema/ });
  t.match(r.errors[3], { message: /the schema for `Inline@1` is not a valid JSON Schema/ });
});

t.test('a keyword JSON Schema does not have is an error with the keyword it is close to; x- annotations and example are not', async (t) => {
  const text = sagaYaml(commandYaml('a'), [
    '    schemas:',
    '      Typo: { type: object, requried: [id] }',
    '      Odd: { type: object, colour: blue }',
    '      Noted: { type: object, x-owner: payments, example: { id: a }, properties: { id: { type: string, x-note: uuid, format: uuid } } }',
  ].join('\n'));
  const r = loadDefinitionsText(text, 'defs.yaml');
  if (r.ok) throw new Error('expected errors');
  t.same(r.errors.map((e) => e.path), ['sagas[0].schemas.Typo', 'sagas[0].schemas.Odd'], 'the annotated schema loads');
  t.match(r.errors[0], { message: 'the schema for `Typo@1` is not a valid JSON Schema: strict mode: unknown keyword: "requried"', hint: 'did you mean `required`?' });
  t.match(r.errors[1], { message: /unknown keyword: "colour"/, hint: 'JSON Schema has no keyword `colour`; an annotation of your own is named x-colour, which is ignored' });
});

t.test('a bad key in a schemas block leaves its other entries checked: every problem in one round', async (t) => {
  const text = sagaYaml(commandYaml('a'), [
    '    schemas:',
    '      F@0: { type: object }',
    '      A@1: { type: objekt }',
    '      B@1: { type: object, requried: [x] }',
  ].join('\n'));
  const r = loadDefinitionsText(text, 'defs.yaml');
  if (r.ok) throw new Error('expected errors');
  t.same(r.errors.map((e) => e.path), ['sagas[0].schemas["F@0"]', 'sagas[0].schemas["A@1"]', 'sagas[0].schemas["B@1"]']);
  t.match(r.errors.map((e) => e.message), [/is not a message type and version/, /is not a valid JSON Schema: schema is invalid/, /unknown keyword: "requried"/]);
});

t.test('a property or a value whose name starts with x- but is no keyword name (x-request.id) is data, not an annotation', async (t) => {
  const text = sagaYaml(commandYaml('a'), [
    '    schemas:',
    '      Headers: { type: object, properties: { "x-request.id": { type: string }, "x-my field": { type: string } }, default: { "x-b.c": 1 } }',
  ].join('\n'));
  const r = loadDefinitionsText(text, 'defs.yaml');
  t.ok(r.ok, r.ok ? 'loads' : r.errors.map((e) => e.message).join('; '));
  if (r.ok) t.match(r.sagas[0]?.schemas['Headers@1']?.({ 'x-request.id': 7 }), /must be string/, 'and its properties are checked');
});

t.test('a stored definition whose schema names an unknown keyword still compiles: it was stored before they were refused', async (t) => {
  const r = loadDefinitionsText(sagaYaml(commandYaml('a'), '    schemas:\n      Typo: { type: object }'), 'defs.yaml');
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('; '));
  const saga = r.sagas[0];
  if (saga === undefined) throw new Error('no saga');
  const older = saga.source.replace('"type":"object"', '"type":"object","requried":["id"]');
  t.not(older, saga.source, 'a source as an older build stored it');
  const again = compileSagaSource(older);
  t.ok(again.ok, again.ok ? 'compiles' : again.errors.map((e) => e.message).join('; '));
});

t.test('a bad schema key, and a value that is not a schema', async (t) => {
  const text = sagaYaml(commandYaml('a'), '    schemas:\n      bad key: {}\n      Absent: x.txt');
  const r = loadDefinitionsText(text, 'defs.yaml');
  t.match(r, { ok: false, errors: [
    { ...positionOf(text, 'bad key'), message: '`bad key` is not a message type and version', hint: /OrderPlaced@1/ },
    { ...positionOf(text, 'x.txt'), message: '`x.txt` is neither a JSON Schema nor a schema file' },
  ] });
});

t.test('the same type twice', async (t) => {
  const text = sagaYaml(commandYaml('a'), '    schemas:\n      Do: {}\n      Do@1: {}');
  t.match(loadDefinitionsText(text, 'defs.yaml'), { ok: false, errors: [{ ...positionOf(text, 'Do@1'), message: '`Do@1` has two schemas' }] });
});
