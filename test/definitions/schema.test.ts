import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import t from 'tap';
import { definitionsSchema } from '../../engine/definitions/index.js';

type Node = Record<string, unknown>;
const defs = definitionsSchema.definitions as Record<string, Node>;

function target(schema: Node): Node {
  const ref = schema.$ref;
  return typeof ref === 'string' ? (defs[ref.replace('#/definitions/', '')] ?? {}) : schema;
}

function* objectSchemas(node: unknown, path: string): Generator<[string, Node]> {
  if (node === null || typeof node !== 'object') return;
  const n = node as Node;
  if (n.properties !== undefined) yield [path, n];
  for (const [k, v] of Object.entries(n)) yield* objectSchemas(v, `${path}/${k}`);
}

t.test('every object in the DSL is closed and every field is described, for editors', async (t) => {
  for (const [path, schema] of objectSchemas(definitionsSchema, '#')) {
    t.equal(schema.additionalProperties, false, `${path} is closed`);
    for (const [name, prop] of Object.entries(schema.properties as Record<string, Node>)) {
      t.ok(prop.description ?? target(prop).description, `${path}/${name} has a description`);
    }
  }
});

t.test('the example files point editors at the schema', async (t) => {
  const root = resolve(import.meta.dirname, '../..');
  t.match(readFileSync(resolve(root, 'saga-definitions.yaml'), 'utf8'), /^# yaml-language-server: \$schema=\.\/engine\/definitions\/saga-definitions\.schema\.json\n/);
  for (const f of ['sagas/order-fulfillment.yaml', 'sagas/trip-booking.yaml']) {
    t.match(readFileSync(resolve(root, f), 'utf8'), /^# yaml-language-server: \$schema=\.\.\/engine\/definitions\/saga-definitions\.schema\.json\n/, f);
  }
});
