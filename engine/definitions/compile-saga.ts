import type { CompiledSaga, Expr, LeafStep, Stage } from '../core/definition.js';
import type { DefinitionPath } from './errors.js';
import type { FileContext } from './context.js';
import { SagaContext } from './context.js';
import { compileForEach, compileForEachGroup } from './compile-for-each.js';
import { compileLeaf } from './compile-steps.js';
import type { LeafInfo } from './compile-steps.js';
import { sagaSource, sourceHash } from './hash.js';
import { nonJsonValues } from './json-data.js';
import { dataTooDeep } from './nesting.js';
import { compileSchemas } from './payload-schemas.js';
import type { SchemaFiles } from './payload-schemas.js';
import type { RawLeafStep, RawParallelStep, RawSaga } from './raw.js';
import { isCommand, isForEach, isForEachGroup, isParallel } from './raw.js';
import type { StepPlace } from './references.js';

/**
 * Compiles one schema-valid saga, reporting every problem into `file`; null when there was one.
 * The same data and schema files always give the same saga, hash and source, whether they come
 * from a YAML file or from a stored source.
 */
export function compileSaga(file: FileContext, raw: RawSaga, path: DefinitionPath, files: SchemaFiles): CompiledSaga | null {
  return compile(file, raw, path, files, () => false);
}

/**
 * Checks a saga that failed the JSON Schema for every other problem, so that one round of
 * `sagactl validate` lists them all: each part with a schema error (`invalid`: JSON pointers
 * of the nodes with a problem at or below them) is left to that error, the rest is compiled
 * and checked as usual. Never returns a saga; a part the schema errors make unreadable in a
 * way the compiler did not foresee leaves only the schema errors.
 */
export function checkInvalidSaga(file: FileContext, raw: unknown, path: DefinitionPath, files: SchemaFiles, invalid: ReadonlySet<string>): void {
  const before = file.errors.length;
  const bad = (p: DefinitionPath): boolean => invalid.has(pointerOf(p));
  const saga = raw as RawSaga;
  if (!Array.isArray(saga.steps) || saga.steps.some((s) => s === null || typeof s !== 'object')) return;
  try {
    compile(file, saga, path, files, bad);
  } catch {
    file.errors.splice(before);
  }
}

/** `['sagas', 0, 'steps']` as the JSON pointer ajv reports, `/sagas/0/steps`. */
function pointerOf(path: DefinitionPath): string {
  return path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function compile(file: FileContext, raw: RawSaga, path: DefinitionPath, files: SchemaFiles, bad: (p: DefinitionPath) => boolean): CompiledSaga | null {
  const before = file.errors.length;
  // A file's data was measured when it was read (parse-file.ts); a stored source was not.
  const deep = dataTooDeep(raw);
  if (deep !== null) {
    file.reportTooDeep([...path, ...deep.path], deep.depth, 'the saga');
    return null;
  }
  for (const nonJson of nonJsonValues(raw, path)) file.report(nonJson.path, nonJson.message, nonJson.hint);
  if (!bad([...path, 'name'])) reserved(file, 'saga', raw.name, [...path, 'name']);
  const ctx = new SagaContext(file, placeSteps(file, raw, path), raw.name);
  const pivot = findPivot(file, raw, path);

  const key = raw.start?.key === undefined || bad([...path, 'start']) ? null
    : ctx.expression([...path, 'start', 'key'], raw.start.key, { stage: -1, branch: null, index: 0, self: null, allowSelf: false, where: 'start.key' });
  const timeout = raw.timeout === undefined || bad([...path, 'timeout']) ? null : file.positiveDuration([...path, 'timeout'], raw.timeout);
  // Defaults feed every step's timeout and retry: with a schema error in them, the steps are left unchecked.
  const badDefaults = bad([...path, 'defaults']);
  if (raw.defaults?.timeout !== undefined && !badDefaults) file.positiveDuration([...path, 'defaults', 'timeout'], raw.defaults.timeout);
  if (!badDefaults) file.retryIntervals([...path, 'defaults', 'retry'], raw.defaults?.retry);

  const stages: (Stage | null)[] = raw.steps.map((step, stage) => file.guarded([...path, 'steps', stage], () => {
    const at = [...path, 'steps', stage];
    if (badDefaults || bad(at)) return null;
    const info = (p: DefinitionPath, branch: number | null, index: number): LeafInfo => ({
      path: p, site: { stage, branch, index }, defaults: raw.defaults,
      afterPivot: pivot !== null && (branch === null ? stage >= pivot : stage > pivot),
      isPivot: branch === null && stage === pivot,
    });
    if (isForEach(step)) return compileForEach(ctx, step, info(at, null, 0));
    if (isForEachGroup(step)) return compileForEachGroup(ctx, step, info(at, null, 0));
    if (!isParallel(step)) return compileLeaf(ctx, step, info(at, null, 0));
    const when: Expr | null = step.when === undefined ? null
      : ctx.expression([...at, 'when'], step.when, { stage, branch: null, index: 0, self: step.name, allowSelf: false, where: 'when' });
    const branches = step.parallel.map((leaves, b) =>
      leaves.map((leaf, i) => {
        if (isForEach(leaf)) {
          file.report([...at, 'parallel', b, i, 'forEach'], `step \`${leaf.name}\` is inside parallel group \`${step.name}\`, so it cannot run forEach`,
            'make the forEach step a top-level step', 'key');
          return null;
        }
        return compileLeaf(ctx, leaf, info([...at, 'parallel', b, i], b, i));
      }));
    return { kind: 'parallel', name: step.name, when, branches: branches as LeafStep[][] };
  }));

  // A schema error in one entry (a key like F@0) leaves the block's other entries to be checked,
  // so that one round lists their problems too.
  const block: unknown = raw.schemas;
  const entries = block !== null && typeof block === 'object' && !Array.isArray(block)
    ? Object.fromEntries(Object.entries(block as Record<string, object | string>).filter(([key]) => !bad([...path, 'schemas', key])))
    : undefined;
  const schemas = compileSchemas(file, entries, [...path, 'schemas'], files);
  if (file.errors.length !== before) return null;
  const source = sagaSource(raw, schemas.fileContents);
  return {
    name: raw.name,
    description: raw.description ?? '',
    hash: sourceHash(source),
    source,
    start: { on: raw.start?.on ?? null, key },
    timeout,
    stages: stages as Stage[],
    schemas: schemas.validators,
  };
}

/** The names every JavaScript object has already (`constructor`, `toString`, `__proto__`, ...). */
const objectNames: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/**
 * Reports a saga or step name that every JavaScript object already has: sagad keeps steps and
 * sagas in records by name, where `constructor` would find the object's own function. Of these
 * only `constructor` fits the name pattern. A stored definition keeps its names: the instances
 * pinned to it run as the core finds their steps (only its own entries count).
 */
function reserved(file: FileContext, what: 'saga' | 'step', name: string, at: DefinitionPath): void {
  if (file.stored || !objectNames.has(name)) return;
  file.report(at, `${what} name \`${name}\` is reserved: every JavaScript object has a property of that name`,
    `rename the ${what}, for example to \`${name}-${what}\``);
}

/** Where every step and group sits, reporting names used twice and reserved names. */
function placeSteps(file: FileContext, raw: RawSaga, path: DefinitionPath): Map<string, StepPlace> {
  const places = new Map<string, StepPlace>();
  const firstAt = new Map<string, DefinitionPath>();
  const place = (name: string, at: DefinitionPath, p: StepPlace): void => {
    reserved(file, 'step', name, [...at, 'name']);
    const first = firstAt.get(name);
    if (first === undefined) {
      places.set(name, p);
      firstAt.set(name, at);
      return;
    }
    const line = file.map.position([...first, 'name']).line;
    file.report([...at, 'name'], `step name \`${name}\` is used twice in saga \`${raw.name}\``,
      `the first \`${name}\` is at line ${line}; give each step its own name`);
  };
  raw.steps.forEach((step, stage) => {
    const at = [...path, 'steps', stage];
    place(step.name, at, { stage, branch: null, index: 0, group: isParallel(step) });
    // A forEach group's steps sit like one branch; only the group's own expressions may read them.
    if (isForEachGroup(step) && Array.isArray(step.steps)) {
      step.steps.forEach((inner, index) => {
        if (inner !== null && typeof inner === 'object' && typeof inner.name === 'string') place(inner.name, [...at, 'steps', index], { stage, branch: 0, index, group: false, within: step.name });
      });
    }
    if (isParallel(step)) {
      branchesOf(step).forEach((leaves, branch) => leaves.forEach((leaf, index) =>
        place(leaf.name, [...at, 'parallel', branch, index], { stage, branch, index, group: false })));
    }
  });
  return places;
}

/** The stage of the pivot, or null; reports a second pivot and a pivot inside a parallel group. */
function findPivot(file: FileContext, raw: RawSaga, path: DefinitionPath): number | null {
  let pivot: number | null = null;
  raw.steps.forEach((step, stage) => {
    const at = [...path, 'steps', stage];
    if (isParallel(step)) {
      branchesOf(step).forEach((leaves, b) => leaves.forEach((leaf, i) => {
        if (!isCommand(leaf) || leaf.pivot !== true) return;
        file.report([...at, 'parallel', b, i, 'pivot'], `step \`${leaf.name}\` is inside parallel group \`${step.name}\`, so it cannot be the pivot`,
          'make the pivot a top-level step', 'key');
      }));
      return;
    }
    if (!isCommand(step) || step.pivot !== true) return;
    if (pivot === null) {
      pivot = stage;
      return;
    }
    const first = raw.steps[pivot]?.name ?? '';
    file.report([...at, 'pivot'], `step \`${step.name}\` is a second pivot, after \`${first}\``,
      'a saga has one point of no return; remove pivot: true from one of them', 'key');
  });
  return pivot;
}

/** A group's branches; those of a schema-invalid group (see `checkInvalidSaga`) may be no lists, and count as empty. */
function branchesOf(step: RawParallelStep): RawLeafStep[][] {
  if (!Array.isArray(step.parallel)) return [];
  return step.parallel.map((leaves) => (Array.isArray(leaves) ? leaves : []));
}
