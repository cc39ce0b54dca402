import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { CompiledSaga } from '../core/definition.js';
import { checkChildren } from './children.js';
import { checkInvalidSaga, compileSaga } from './compile-saga.js';
import { sortErrors } from './errors.js';
import type { DefinitionError } from './errors.js';
import type { FileContext } from './context.js';
import { parseDefinitionsFile, readBoundedFile } from './parse-file.js';
import type { FileText } from './parse-file.js';
import type { SchemaFiles } from './payload-schemas.js';
import type { RawSaga } from './raw.js';

/** The sagas of a definitions file and its includes, or every problem found in them. */
export type LoadResult =
  | { ok: true; sagas: CompiledSaga[]; files: string[] }
  | { ok: false; errors: DefinitionError[] };

interface Load {
  readonly files: string[];
  readonly loaded: Set<string>;
  readonly errors: DefinitionError[];
  readonly sagas: CompiledSaga[];
  readonly names: Map<string, { file: string; line: number }>;
  /** Every file's context: its `saga` steps are checked once all sagas are known. */
  readonly contexts: FileContext[];
}

/** A file being loaded, as an absolute path (to find cycles) and as shown in messages. */
interface Frame {
  readonly abs: string;
  readonly shown: string;
}

function readText(load: Load, file: string): FileText {
  const r = readBoundedFile(file);
  if (r.ok && !load.files.includes(file)) load.files.push(file);
  return r;
}

/** Schema files on disk, relative to the definitions file that names them. */
function schemaFilesBeside(load: Load, file: string): SchemaFiles {
  return {
    read: (path) => {
      const r = readText(load, isAbsolute(path) ? path : join(dirname(file), path));
      if (!r.ok) throw new Error(r.message);
      return r.text;
    },
    hint: `the path is relative to ${file}`,
  };
}

/**
 * Reads and compiles a definitions file with its includes and schema files; never throws for
 * bad input. With `pipe` (sagactl), the file itself may be a pipe (`<(helm template ...)`,
 * `/dev/stdin`), read up to the same size; includes and schema files stay regular files.
 */
export function loadDefinitionsFile(file: string, opts: { readonly pipe?: boolean } = {}): LoadResult {
  const r = readBoundedFile(file, opts);
  if (!r.ok) {
    const message = `cannot read the definitions file: ${r.message}`;
    return { ok: false, errors: [{ file, line: 1, column: 1, path: '', message, hint: r.hint ?? 'check the path and the permissions' }] };
  }
  return loadDefinitionsText(r.text, file);
}

/** Compiles definitions text; includes and schema files resolve against dirname(file). */
export function loadDefinitionsText(text: string, file: string): LoadResult {
  const load: Load = { files: [file], loaded: new Set([resolve(file)]), errors: [], sagas: [], names: new Map(), contexts: [] };
  loadText(load, text, [{ abs: resolve(file), shown: file }]);
  // Each file's own errors are in load.errors already: only what the check adds is taken.
  const counts = load.contexts.map((c) => c.errors.length);
  try {
    checkChildren(load.contexts, load.sagas, new Set(load.names.keys()));
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    load.errors.push(notChecked(file, 'the child sagas of its `saga` steps', err));
  }
  load.contexts.forEach((c, i) => load.errors.push(...c.errors.slice(counts[i])));
  if (load.errors.length > 0) return { ok: false, errors: sortErrors(load.errors) };
  return { ok: true, sagas: load.sagas, files: load.files };
}

/**
 * A RangeError (the stack or a string run out) on input that no check foresaw, reported as an
 * error of the file rather than thrown: the server must refuse a bad file with its name, not crash.
 */
function notChecked(file: string, what: string, err: RangeError): DefinitionError {
  return { file, line: 1, column: 1, path: '', message: `the loader could not check ${what}: ${err.message}`, hint: 'nest its values and expressions less deeply' };
}

function loadText(load: Load, text: string, stack: readonly Frame[]): void {
  const file = stack[stack.length - 1]?.shown ?? '';
  let parsed: ReturnType<typeof parseDefinitionsFile>;
  try {
    parsed = parseDefinitionsFile(text, file);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    load.errors.push(notChecked(file, 'the file', err));
    return;
  }
  const { ctx, data, invalid } = parsed;
  const raw = (data ?? {}) as { include?: unknown; sagas?: unknown };
  if (Array.isArray(raw.sagas)) {
    raw.sagas.forEach((saga: unknown, i) => {
      if (!isNamed(saga)) return;
      checkSagaName(load, ctx, saga.name, i);
      ctx.guarded(['sagas', i], () => {
        // A saga with schema errors is still checked for every other problem, in the same round.
        if (invalid.has(`/sagas/${i}`)) {
          checkInvalidSaga(ctx, saga, ['sagas', i], schemaFilesBeside(load, ctx.file), invalid);
          return null;
        }
        const compiled = compileSaga(ctx, saga as RawSaga, ['sagas', i], schemaFilesBeside(load, ctx.file));
        if (compiled !== null) load.sagas.push(compiled);
        return null;
      });
    });
  }
  if (Array.isArray(raw.include)) {
    raw.include.forEach((rel: unknown, i) => {
      if (typeof rel === 'string' && rel !== '') include(load, ctx, stack, rel, i);
    });
  }
  load.errors.push(...ctx.errors);
  load.contexts.push(ctx);
}

function isNamed(value: unknown): value is { name: string } {
  return value !== null && typeof value === 'object' && typeof (value as { name?: unknown }).name === 'string';
}

function checkSagaName(load: Load, ctx: FileContext, name: string, i: number): void {
  const path = ['sagas', i, 'name'];
  const first = load.names.get(name);
  if (first === undefined) {
    load.names.set(name, { file: ctx.file, line: ctx.map.position(path).line });
    return;
  }
  ctx.report(path, `saga name \`${name}\` is already used at ${first.file}:${first.line}`,
    'saga names must be unique across the file and its includes; rename one of them');
}

function include(load: Load, ctx: FileContext, stack: readonly Frame[], rel: string, i: number): void {
  const shown = isAbsolute(rel) ? rel : join(dirname(ctx.file), rel);
  const abs = resolve(shown);
  const cycle = stack.findIndex((f) => f.abs === abs);
  if (cycle >= 0) {
    const chain = [...stack.slice(cycle).map((f) => f.shown), shown].join(' -> ');
    ctx.report(['include', i], `include cycle: ${chain}`, 'a file cannot include itself, directly or through other files; remove one of the includes');
    return;
  }
  if (load.loaded.has(abs)) return;
  const r = readText(load, shown);
  if (!r.ok) {
    ctx.report(['include', i], `cannot read the included file \`${rel}\`: ${r.message}`, r.hint ?? `the path is relative to ${ctx.file}`);
    return;
  }
  load.loaded.add(abs);
  loadText(load, r.text, [...stack, { abs, shown }]);
}
