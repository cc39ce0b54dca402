import { LineCounter, parseDocument } from 'yaml';
import type { ErrorCode } from 'yaml';
import { FileContext } from './context.js';
import { validateDefinitions } from './dsl-schema.js';
import { explainSchemaErrors } from './schema-errors.js';
import { SourceMap } from './source-map.js';

/** A definitions file parsed and checked against the schema. */
export interface ParsedFile {
  readonly ctx: FileContext;
  /** The file's data, or null when the YAML did not parse. */
  readonly data: unknown;
  /** Pointers (`/sagas/0`) of every node that has a schema problem, and of its parents; `''` when any has. */
  readonly invalid: ReadonlySet<string>;
}

const yamlHints: Partial<Record<ErrorCode, string>> = {
  BAD_INDENT: 'check the indentation: nested entries need more spaces than their parent',
  DUPLICATE_KEY: 'each key may appear once in a mapping',
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  MULTIPLE_DOCS: 'keep one YAML document per file; use include for more files',
  MISSING_CHAR: 'a bracket or quote is not closed',
  BLOCK_AS_IMPLICIT_KEY: 'check the indentation and the colons of the lines above',
};

/** Parses YAML text with positions, reporting syntax and schema errors in plain words. */
export function parseDefinitionsFile(text: string, file: string): ParsedFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const ctx = new FileContext(file, new SourceMap(doc, lines));
  const invalid = new Set<string>();
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const { line, column } = ctx.map.toPosition(e.pos[0]);
      const message = `YAML syntax error: ${e.message.split('\n')[0]?.replace(/\.$/, '') ?? e.code}`;
      ctx.errors.push({ file, line, column, path: '', message, hint: yamlHints[e.code] ?? 'fix the YAML syntax' });
    }
    return { ctx, data: null, invalid };
  }
  let data: unknown;
  try {
    data = doc.toJS() ?? {};
  } catch (err) {
    ctx.errors.push({ file, line: 1, column: 1, path: '', message: `cannot read the YAML: ${(err as Error).message}`, hint: 'avoid deeply nested aliases' });
    return { ctx, data: null, invalid };
  }
  const ajvErrors = validateDefinitions(data);
  for (const problem of explainSchemaErrors(ajvErrors, data)) ctx.report(problem.path, problem.message, problem.hint, problem.at);
  for (const e of ajvErrors) {
    const parts = e.instancePath.split('/');
    invalid.add('');
    for (let i = 2; i <= parts.length; i++) invalid.add(parts.slice(0, i).join('/'));
  }
  return { ctx, data, invalid };
}
