/**
 * Files that would make the loader read for ever, block, or expand beyond memory are refused
 * with the loader's usual located errors: sagad reads the same files at start and on reload.
 */
import { execFileSync } from 'node:child_process';
import { symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadDefinitionsFile, loadDefinitionsText } from '../../engine/definitions/index.js';
import { MAX_FILE_BYTES, MAX_YAML_ALIASES, MAX_YAML_TOKENS, MAX_YAML_VALUES } from '../../engine/definitions/parse-file.js';
import { commandYaml, positionOf, sagaYaml } from './fixtures/saga-yaml.js';

const valid = sagaYaml(commandYaml('a', { extra: 'pivot: true', compensate: false }));
/** The same saga with `payload` as the command's payload. */
const withPayload = (payload: string): string => sagaYaml(commandYaml('a', { extra: 'pivot: true', compensate: false, payload }));

t.test('an include of a device is refused without reading it', async (t) => {
  const dir = t.testdir({ 'root.yaml': `include: [/dev/zero]\n${valid}` });
  const r = loadDefinitionsFile(join(dir, 'root.yaml'));
  t.match(r, { ok: false, errors: [{ file: join(dir, 'root.yaml'), line: 1, column: 11, path: 'include[0]', message: 'cannot read the included file `/dev/zero`: /dev/zero is a character device, not a regular file', hint: /^name a regular file/ }] });
});

t.test('a definitions file, an include or a schema file that is a pipe is refused, not waited on', async (t) => {
  const dir = t.testdir({ 'root.yaml': `include: [pipe.yaml]\n${valid}` });
  execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
  symlinkSync(join(dir, 'pipe.yaml'), join(dir, 'schema.json'));
  t.match(loadDefinitionsFile(join(dir, 'pipe.yaml')), { ok: false, errors: [{ line: 1, column: 1, message: `cannot read the definitions file: ${join(dir, 'pipe.yaml')} is a pipe, not a regular file` }] });
  t.match(loadDefinitionsFile(join(dir, 'root.yaml')), { ok: false, errors: [{ path: 'include[0]', message: /is a pipe, not a regular file$/ }] });
  const text = valid.replace('    steps:', '    schemas: { Do: schema.json }\n    steps:');
  t.match(loadDefinitionsText(text, join(dir, 'defs.yaml')), { ok: false, errors: [{ path: 'sagas[0].schemas.Do', message: /cannot read the schema file `schema.json`: .*schema.json is a pipe, not a regular file/ }] });
});

t.test('a directory is refused as such', async (t) => {
  const dir = t.testdir({});
  t.match(loadDefinitionsFile(dir), { ok: false, errors: [{ message: `cannot read the definitions file: ${dir} is a directory, not a regular file` }] });
});

t.test('a file over the size limit is refused with its size and the limit', async (t) => {
  const dir = t.testdir({ 'big.yaml': '', 'root.yaml': `include: [big.yaml]\n${valid}` });
  const big = join(dir, 'big.yaml');
  truncateSync(big, MAX_FILE_BYTES + 1);
  t.match(loadDefinitionsFile(big), { ok: false, errors: [{ file: big, line: 1, column: 1, message: `cannot read the definitions file: ${big} is 10,000,001 bytes, more than the 10,000,000 bytes (10 MB) a file may have`, hint: /^make the file smaller/ }] });
  t.match(loadDefinitionsFile(join(dir, 'root.yaml')), { ok: false, errors: [{ path: 'include[0]', message: /is 10,000,001 bytes, more than the 10,000,000 bytes/ }] });
});

t.test('YAML of more tokens than the parser may hold is refused before it is parsed', async (t) => {
  const text = `${valid}padding: [${Array.from({ length: MAX_YAML_TOKENS / 2 }, () => 'x').join(',')}]\n`;
  t.ok(text.length < MAX_FILE_BYTES, 'under the size limit');
  t.match(loadDefinitionsText(text, 'defs.yaml'), { ok: false, errors: [{ file: 'defs.yaml', line: 1, column: 1, message: 'the file is too big to read: more than 500,000 YAML tokens' }] });
});

t.test('one anchor repeated until the data passes the value limit is refused at the alias that passes it', async (t) => {
  // 20,001 values repeated by 60 aliases: 1.2 million once expanded, in 40 KB of YAML; the 49th passes the limit.
  const aliases = Array.from({ length: 60 }, (_, i) => `b${i}: *a`).join(', ');
  const text = withPayload(`{ a: &a [${Array.from({ length: 20_000 }, () => 'x').join(',')}], ${aliases} }`);
  const r = loadDefinitionsText(text, 'defs.yaml');
  const at = positionOf(text, 'b48: *a');
  t.match(r, { ok: false, errors: [{ line: at.line, column: at.column + 5, path: '', message: 'the aliases expand the file to more than 1,000,000 values (here `*a` repeats 20,001)', hint: /write large parts once/ }] });
  t.equal(MAX_YAML_VALUES, 1_000_000);
});

t.test('an alias bomb (aliases of aliases) is refused in the same words', async (t) => {
  const levels = 'abcdefghi'.split('');
  const text = `${valid}${levels.map((l, i) => `${l}: &${l} [${i === 0 ? '"x","x","x","x","x","x","x","x","x"' : Array(9).fill(`*${levels[i - 1] ?? ''}`).join(',')}]`).join('\n')}\n`;
  t.match(loadDefinitionsText(text, 'defs.yaml'), { ok: false, errors: [{ message: /^the aliases expand the file to more than 1,000,000 values \(here `\*f` repeats [\d,]+\)$/ }] });
});

t.test('more anchors and aliases than the limit are refused; fewer load, however often one anchor is used', async (t) => {
  const many = (n: number): string => withPayload(`{ a: &a x, b: [${Array(n - 1).fill('*a').join(',')}] }`);
  t.match(loadDefinitionsText(many(MAX_YAML_ALIASES + 1), 'defs.yaml'), { ok: false, errors: [{ message: 'the file has more than 5,000 anchors and aliases', hint: /fewer aliases/ }] });
  const r = loadDefinitionsText(many(MAX_YAML_ALIASES), 'defs.yaml');
  t.equal(r.ok, true, r.ok ? '' : JSON.stringify(r.errors));
});

t.test('an alias inside the node it repeats is refused, not followed round for ever', async (t) => {
  const text = withPayload('&a { a: *a }');
  t.match(loadDefinitionsText(text, 'defs.yaml'), { ok: false, errors: [{ ...positionOf(text, '*a }'), message: 'alias `*a` is inside the node it repeats' }] });
});

t.test('ordinary anchors and aliases still load', async (t) => {
  const text = [
    'sagas:',
    '  - name: s',
    '    defaults: { timeout: 10s, retry: &retry { maxAttempts: unlimited, initialInterval: 1s } }',
    '    steps:',
    '      - name: a',
    '        command: { subject: svc.commands, type: Do, payload: &p { id: "{% $input.id %}" } }',
    '        reply: &reply { subject: svc.events, success: [Done] }',
    '        retry: *retry',
    '        pivot: true',
    '      - name: b',
    '        command: { subject: svc.commands, type: Do, payload: *p }',
    '        reply: *reply',
    '        retry: *retry',
    '',
  ].join('\n');
  const r = loadDefinitionsText(text, 'defs.yaml');
  t.equal(r.ok, true, r.ok ? '' : JSON.stringify(r.errors));
});

t.test('a plain file is read as before', async (t) => {
  const dir = t.testdir({ 'defs.yaml': valid });
  t.match(loadDefinitionsFile(join(dir, 'defs.yaml')), { ok: true, sagas: [{ name: 's' }], files: [join(dir, 'defs.yaml')] });
  writeFileSync(join(dir, 'empty.yaml'), '');
  t.match(loadDefinitionsFile(join(dir, 'empty.yaml')), { ok: true, sagas: [] });
});
