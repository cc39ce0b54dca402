/** One problem in a definitions file, located at the YAML node that causes it. */
export interface DefinitionError {
  file: string;
  line: number;
  column: number;
  /** Where in the document, like `sagas[0].steps[2].timeout`; empty for the whole file. */
  path: string;
  message: string;
  hint: string;
}

/** A step into a YAML document: a mapping key or a list index. */
export type PathSegment = string | number;
/** A path into a YAML document, from its root. */
export type DefinitionPath = readonly PathSegment[];

/** Pure: renders `file:line:column: path: message. hint`, leaving out an empty path or hint. */
export function formatDefinitionError(e: DefinitionError): string {
  const where = `${e.file}:${e.line}:${e.column}: `;
  const path = e.path === '' ? '' : `${e.path}: `;
  const hint = e.hint === '' ? '' : ` ${e.hint.charAt(0).toUpperCase()}${e.hint.slice(1)}`;
  return `${where}${path}${e.message}.${hint}`;
}

/** Pure: `['sagas', 0, 'steps', 2, 'timeout']` becomes `sagas[0].steps[2].timeout`. */
export function formatPath(path: DefinitionPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Pure: orders errors by file, then line, then column, keeping the order of equal ones. */
export function sortErrors(errors: readonly DefinitionError[]): DefinitionError[] {
  return [...errors].sort((a, b) =>
    a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1,
  );
}

/** Pure: a short rendering of a YAML value for messages, like `5 seconds` or `30`. */
export function show(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
