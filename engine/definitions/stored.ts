import { LineCounter, parseDocument } from 'yaml';
import type { CompiledSaga } from '../core/definition.js';
import { compileSaga } from './compile-saga.js';
import { FileContext } from './context.js';
import { validateDefinitions } from './dsl-schema.js';
import { sortErrors } from './errors.js';
import type { DefinitionError } from './errors.js';
import type { SchemaFiles } from './payload-schemas.js';
import type { RawSaga } from './raw.js';
import { explainSchemaErrors } from './schema-errors.js';
import { SourceMap } from './source-map.js';

/** The file name errors of a stored source report. */
export const STORED_DEFINITION = '<stored definition>';

/** A saga compiled from its stored source, or every problem found in the source. */
export type SourceResult = { ok: true; saga: CompiledSaga } | { ok: false; errors: DefinitionError[] };

const fields = ['definition', 'schemaFiles'];

/**
 * Compiles a saga from the `source` the loader stored with it, reading no file. For a source
 * the loader produced, the saga has the same hash and source and behaves the same; otherwise
 * its source is the canonical form of the data given and its hash is of that. Errors are
 * located in the source text, with paths like `definition.steps[0].timeout`.
 */
export function compileSagaSource(source: string): SourceResult {
  try {
    return compileSource(source);
  } catch (err) {
    // The stack or a string run out on a source no check foresaw: an error of the source, not a crash.
    if (!(err instanceof RangeError)) throw err;
    const message = `the loader could not check the stored definition: ${err.message}`;
    return { ok: false, errors: [{ file: STORED_DEFINITION, line: 1, column: 1, path: '', message, hint: 'store it again from its definitions file' }] };
  }
}

function compileSource(source: string): SourceResult {
  const lines = new LineCounter();
  // JSON is YAML: the YAML parser gives the positions of the source's nodes for messages.
  const ctx = new FileContext(STORED_DEFINITION, new SourceMap(parseDocument(source, { lineCounter: lines }), lines), true);
  let data: unknown;
  try {
    data = JSON.parse(source);
  } catch (err) {
    const message = (err as Error).message;
    const at = /at position (\d+)/.exec(message)?.[1] ?? (/end of JSON/.test(message) ? String(source.length) : '0');
    const { line, column } = ctx.map.toPosition(Number(at));
    const hint = 'the source of a saga is the JSON the loader stored with it; store it again from its definitions file';
    return { ok: false, errors: [{ file: STORED_DEFINITION, line, column, path: '', message: `the stored definition is not JSON: ${message}`, hint }] };
  }
  const parts = checkShape(ctx, data);
  if (parts === null) return { ok: false, errors: sortErrors(ctx.errors) };

  const wrapped = { sagas: [parts.definition] };
  for (const problem of explainSchemaErrors(validateDefinitions(wrapped, true), wrapped)) {
    const [first, second, ...rest] = problem.path;
    const path = first === 'sagas' && second === 0 ? ['definition', ...rest] : ['definition'];
    ctx.report(path, problem.message, problem.hint, problem.at);
  }
  if (ctx.errors.length > 0) return { ok: false, errors: sortErrors(ctx.errors) };

  const read = new Set<string>();
  const files: SchemaFiles = {
    read: (path) => {
      const text = Object.hasOwn(parts.schemaFiles, path) ? parts.schemaFiles[path] : undefined;
      if (text === undefined) throw new Error('it is not among the stored schema files');
      read.add(path);
      return text;
    },
    hint: 'a stored definition carries the text of every schema file it names; store it again from its definitions file',
  };
  const saga = compileSaga(ctx, parts.definition as RawSaga, ['definition'], files);
  for (const path of Object.keys(parts.schemaFiles)) {
    if (read.has(path)) continue;
    ctx.report(['schemaFiles', path], `the schema file \`${path}\` is stored but no schema names it`,
      'a stored definition carries exactly the schema files it names; remove this one', 'key');
  }
  if (saga === null || ctx.errors.length > 0) return { ok: false, errors: sortErrors(ctx.errors) };
  return { ok: true, saga };
}

interface Parts {
  readonly definition: object;
  readonly schemaFiles: Readonly<Record<string, string>>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The definition and schema files of a parsed source, reporting a source of another shape. */
function checkShape(ctx: FileContext, data: unknown): Parts | null {
  const shape = 'a stored definition is a JSON object with `definition` (the saga as written) and `schemaFiles` (path -> text)';
  if (!isRecord(data)) {
    ctx.report([], 'the stored definition is not a JSON object', shape);
    return null;
  }
  for (const key of Object.keys(data)) {
    if (!fields.includes(key)) ctx.report([key], `unknown field \`${key}\``, shape, 'key');
  }
  const { definition, schemaFiles } = data;
  if (!isRecord(definition)) ctx.report(definition === undefined ? [] : ['definition'], '`definition` is missing or not a mapping', shape);
  if (!isRecord(schemaFiles)) {
    ctx.report(schemaFiles === undefined ? [] : ['schemaFiles'], '`schemaFiles` is missing or not a mapping', shape);
  } else {
    for (const [path, text] of Object.entries(schemaFiles)) {
      if (typeof text !== 'string') ctx.report(['schemaFiles', path], `the stored schema file \`${path}\` is not text`, shape);
    }
  }
  if (ctx.errors.length > 0 || !isRecord(definition) || !isRecord(schemaFiles)) return null;
  return { definition, schemaFiles: schemaFiles as Record<string, string> };
}
