/**
 * Sample data for generated scenarios: the saga input and each step's reply payload, from the
 * schemas where the saga has them and from what its expressions read everywhere else.
 */
import type { CompiledSaga, LeafStep } from '../core/index.js';
import { leafSteps } from '../core/index.js';
import { fillForEachInputs } from './for-each-samples.js';
import { rawSchemas, readPaths, type ReadPath } from './references.js';
import { sampleFromSchema } from './schema-sample.js';

/** Where a sample input came from, for the report. */
export type InputOrigin = 'given' | 'schema' | 'expressions' | 'schema and expressions';

/** The data a saga's scenarios run with: the input and each step's success and failure payloads. */
export interface Samples {
  readonly input: unknown;
  readonly inputOrigin: InputOrigin;
  readonly success: Readonly<Record<string, unknown>>;
  readonly failure: Readonly<Record<string, unknown>>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Sets `names` in `target` unless something is there already; never replaces a value by an object. */
function fill(target: Record<string, unknown>, names: readonly string[], value: () => unknown): void {
  let node = target;
  for (const [i, name] of names.entries()) {
    if (i === names.length - 1) {
      if (!(name in node)) node[name] = value();
      return;
    }
    if (!(name in node)) node[name] = {};
    const next = node[name];
    if (!isRecord(next)) return;
    node = next;
  }
}

/** Pure: the value a path should get: from the schema of the payload field it fills, else a readable string. */
function leafValue(p: ReadPath, schemas: Readonly<Record<string, unknown>>): unknown {
  if (p.field !== undefined) {
    const schema = schemas[p.field.message];
    const props = isRecord(schema) && isRecord(schema.properties) ? schema.properties : {};
    if (props[p.field.name] !== undefined) return sampleFromSchema(props[p.field.name], p.field.name, schema);
  }
  if (p.sample !== undefined) return p.sample;
  return `${p.names.at(-1) ?? 'value'}-1`;
}

/** Fills every path into `base`, the longest first so that `a.b` makes `a` an object before `a` is seen alone. */
function fillPaths(base: Record<string, unknown>, paths: readonly ReadPath[], schemas: Readonly<Record<string, unknown>>): void {
  // Paths that fill a field with a schema first, then those an operator suggests a value for: the more faithful values.
  const typed = (p: ReadPath): boolean => {
    const schema = p.field === undefined ? undefined : schemas[p.field.message];
    return isRecord(schema) && isRecord(schema.properties) && p.field !== undefined && schema.properties[p.field.name] !== undefined;
  };
  const rank = (p: ReadPath): number => (typed(p) ? 2 : p.sample !== undefined ? 1 : 0);
  const ordered = [...paths].sort((a, b) => rank(b) - rank(a) || b.names.length - a.names.length);
  for (const p of ordered) fill(base, p.names, () => leafValue(p, schemas));
}

function schemaSample(schemas: Readonly<Record<string, unknown>>, type: string | undefined): Record<string, unknown> | null {
  if (type === undefined) return null;
  const schema = schemas[`${type}@1`];
  if (schema === undefined) return null;
  const v = sampleFromSchema(schema, type, schema);
  return isRecord(v) ? v : null;
}

/** Pure: an input the saga's expressions can read: the trigger schema's sample, completed from the expressions. */
export function sampleInput(saga: CompiledSaga): { input: unknown; origin: InputOrigin } {
  const schemas = rawSchemas(saga);
  const fromSchema = schemaSample(schemas, saga.start.on?.type);
  const input = structuredClone(fromSchema ?? {});
  const paths = readPaths(saga).filter((p) => p.variable === 'input');
  const before = JSON.stringify(input);
  fillPaths(input, paths, schemas);
  if (isRecord(input)) fillForEachInputs(saga, input);
  const extended = JSON.stringify(input) !== before;
  const origin: InputOrigin = fromSchema === null ? 'expressions' : extended ? 'schema and expressions' : 'schema';
  return { input, origin };
}

/** Pure: the success payload of a step: its reply schema's sample with every field later expressions read. */
function successPayload(saga: CompiledSaga, l: LeafStep, schemas: Readonly<Record<string, unknown>>, paths: readonly ReadPath[]): unknown {
  const type = l.kind === 'command' ? l.reply.success[0] : l.kind === 'wait' ? l.type : undefined;
  const payload = structuredClone(schemaSample(schemas, type) ?? {});
  // A group's step `lines.pick` is read as `$steps.pick...` inside its group and `$steps.lines.pick...` after it.
  const dot = l.name.indexOf('.');
  const inner = dot < 0 ? null : { stage: l.name.slice(0, dot), step: l.name.slice(dot + 1) };
  const own = (names: readonly string[]): string[] | null => {
    if (inner === null) return names[0] === l.name && names.length > 1 ? names.slice(1) : null;
    if (names[0] === inner.step && names.length > 1) return names.slice(1);
    return names[0] === inner.stage && names[1] === inner.step && names.length > 2 ? names.slice(2) : null;
  };
  const mine = paths.flatMap((p) => {
    const names = p.variable === 'steps' ? own(p.names) : null;
    return names === null ? [] : [{ ...p, names }];
  });
  fillPaths(payload, mine, schemas);
  return payload;
}

/** Pure: the samples of a saga; `input` replaces the generated input when given. */
export function sagaSamples(saga: CompiledSaga, input?: unknown): Samples {
  const schemas = rawSchemas(saga);
  const paths = readPaths(saga);
  const success: Record<string, unknown> = {};
  const failure: Record<string, unknown> = {};
  for (const l of leafSteps(saga)) {
    success[l.name] = successPayload(saga, l, schemas, paths);
    const failType = l.kind === 'command' ? l.reply.failure[0] ?? l.reply.retryable[0] : undefined;
    failure[l.name] = schemaSample(schemas, failType) ?? { reason: 'scripted failure' };
  }
  if (input !== undefined) return { input, inputOrigin: 'given', success, failure };
  const generated = sampleInput(saga);
  return { input: generated.input, inputOrigin: generated.origin, success, failure };
}
