import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { parseDocument, stringify } from 'yaml';
import { formatDefinitionError, loadDefinitionsText } from '../../engine/definitions/index.js';
import { holds, jsonValue, nastyString } from './fuzz-helpers.js';

/**
 * Fuzzing definitions files (issue 13, item 8): whatever a definitions file holds (random YAML,
 * the example with a value replaced or removed anywhere), loading never throws and never
 * hangs; it accepts, or gives errors that each name the file, a line and column, and what is
 * wrong.
 */
const root = new URL('../..', import.meta.url).pathname;
const file = join(root, 'sagas/order-fulfillment.yaml');
const example = readFileSync(file, 'utf8');
const doc = parseDocument(example).toJS() as unknown;

/** Every path to a value in a JSON tree. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return [at, ...v.flatMap((x, i) => paths(x, [...at, i]))];
  if (typeof v === 'object' && v !== null) return [at, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...at, k]))];
  return [at];
}
const allPaths = paths(doc).filter((p) => p.length > 0);

/** The example with the value at one path replaced (or removed when `value` is undefined). */
function mutate(path: (string | number)[], value: unknown): string {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path.at(-1) as string | number;
  if (value === undefined) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else {
    node[last] = value;
  }
  return stringify(copy);
}

function judge(text: string): void {
  const r = loadDefinitionsText(text, file);
  if (r.ok) return;
  if (r.errors.length === 0) throw new Error('refused without an error');
  for (const e of r.errors) {
    const line = formatDefinitionError(e);
    if (!Number.isInteger(e.line) || e.line < 1 || !Number.isInteger(e.column) || e.column < 1) throw new Error(`no place: ${line}`);
    if (e.message.trim() === '' || !line.startsWith(`${file}:`)) throw new Error(`no sentence: ${line}`);
  }
}

const odd = fc.oneof(jsonValue(3), nastyString, fc.constantFrom('{% $x %}', '{% $sum([1..10000000]) %}', '{% ( %}', '1h', '-1s', 'unlimited', 0, -1, 1e308, null));

t.test('the example with one value replaced or removed anywhere', async (t) => {
  judge(example);
  await holds(t, 'one mutation', fc.tuple(fc.constantFrom(...allPaths), fc.option(odd, { nil: undefined })), ([path, value]) => judge(mutate(path, value)), 100);
});

t.test('random YAML and random text', async (t) => {
  await holds(t, 'a random document', jsonValue(5).map((v) => stringify(v)), judge);
  await holds(t, 'random text', fc.string({ maxLength: 300 }), judge);
  await holds(t, 'sagas of random shape', fc.array(fc.dictionary(fc.constantFrom('name', 'steps', 'start', 'timeout', 'defaults', 'schemas', 'x'), odd, { maxKeys: 5 }), { maxLength: 3 })
    .map((sagas) => stringify({ version: 1, sagas })), judge);
});
