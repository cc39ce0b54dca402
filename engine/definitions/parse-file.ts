import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { isAlias, isCollection, isNode, isPair, Lexer, LineCounter, parseDocument } from 'yaml';
import type { Document, ErrorCode, Node } from 'yaml';
import { FileContext } from './context.js';
import { validateDefinitions } from './dsl-schema.js';
import { dataTooDeep, MAX_NESTING } from './nesting.js';
import { explainSchemaErrors } from './schema-errors.js';
import { SourceMap } from './source-map.js';

/** Largest file read (definitions, includes, schema files, cases): far above any real one; it bounds the read. */
export const MAX_FILE_BYTES = 10_000_000;
/**
 * Most YAML tokens parsed. The parser keeps a few hundred bytes a token, so this bounds its
 * memory where the byte limit cannot: 10 MB of `[x,x,...]` takes more than 4 GB to parse, a file
 * just under this limit about 1 s and 260 MB to validate. Ordinary YAML has a token in every 2
 * to 5 bytes: 2,000 small sagas in flow style (900 KB) are 478,000 tokens.
 */
export const MAX_YAML_TOKENS = 500_000;
/**
 * Most anchors and aliases together: yaml resolves each alias by scanning the anchors and
 * aliases before it, so their cost grows with the square (1,000: 45 ms; 5,000: 0.4 s; 10,000:
 * 1.1 s; 20,000: 6 s). 5,000 leaves room for shared defaults: 84 sagas of a service each
 * aliasing a dozen retry blocks are about 1,000.
 */
export const MAX_YAML_ALIASES = 5_000;
/**
 * Most values of the data once every alias is expanded, as the schema check and the compiler
 * walk it. yaml's own maxAliasCount weighs how deeply aliases nest, not what they repeat: one
 * anchor of a million items and 95 aliases passed it and took 78 s and 3 GB to validate.
 */
export const MAX_YAML_VALUES = 1_000_000;

/** The text of a file, or why it was not read (with what to do, when it is not the usual). */
export type FileText = { ok: true; text: string } | { ok: false; message: string; hint?: string };

/** What to do with a file too big: cases files have no include. */
const SPLIT = 'make the file smaller; a definitions file can be split into several with include:';
const count = (n: number): string => n.toLocaleString('en-US');
const mb = (bytes: number): string => `${count(bytes / 1_000_000)} MB`;

function notRegular(file: string, s: Stats, pipe = false): FileText | null {
  if (s.isFile() || (pipe && s.isFIFO())) return null;
  const kind = s.isDirectory() ? 'a directory' : s.isFIFO() ? 'a pipe' : s.isCharacterDevice() ? 'a character device'
    : s.isBlockDevice() ? 'a block device' : s.isSocket() ? 'a socket' : 'an unknown kind of file';
  return { ok: false, message: `${file} is ${kind}, not a regular file`, hint: 'name a regular file; devices, pipes and directories are not read' };
}

function tooLarge(file: string, size: number): FileText | null {
  if (size <= MAX_FILE_BYTES) return null;
  return {
    ok: false,
    message: `${file} is ${count(size)} bytes, more than the ${count(MAX_FILE_BYTES)} bytes (${mb(MAX_FILE_BYTES)}) a file may have`,
    hint: SPLIT,
  };
}

/**
 * Reads a regular file of at most MAX_FILE_BYTES as UTF-8; never throws. A device, a pipe or a
 * directory is refused before it is opened (opening a pipe would wait for a writer), and a file
 * that grows while it is read is cut at the limit and refused.
 */
export function readBoundedFile(file: string, opts: { readonly pipe?: boolean } = {}): FileText {
  let fd: number;
  const pipe = opts.pipe === true;
  try {
    const refused = notRegular(file, statSync(file), pipe);
    if (refused !== null) return refused;
    // O_NONBLOCK: if a pipe replaced the file since the stat, the open does not wait for a
    // writer. A pipe asked for (`sagactl validate <(helm template ...)`) is read blocking.
    fd = openSync(file, pipe ? constants.O_RDONLY : constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
  try {
    const s = fstatSync(fd);
    const refused = notRegular(file, s, pipe) ?? tooLarge(file, s.size);
    if (refused !== null) return refused;
    // Read to the end, not to the size of the fstat: the file may be growing.
    const chunks: Buffer[] = [];
    let length = 0;
    while (length <= MAX_FILE_BYTES) {
      const chunk = Buffer.alloc(Math.min(1 << 20, MAX_FILE_BYTES + 1 - length));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      length += n;
    }
    return tooLarge(file, length) ?? { ok: true, text: Buffer.concat(chunks, length).toString('utf8') };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  } finally {
    closeSync(fd);
  }
}

/** A YAML file parsed within the limits: its data, or `ok: false` with the errors in `ctx`. */
export interface YamlFile {
  readonly ctx: FileContext;
  readonly doc: Document.Parsed;
  readonly ok: boolean;
  /** The file's data (null for an empty file); null when not ok. */
  readonly data: unknown;
}

const yamlHints: Partial<Record<ErrorCode, string>> = {
  BAD_INDENT: 'check the indentation: nested entries need more spaces than their parent',
  DUPLICATE_KEY: 'each key may appear once in a mapping',
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  MULTIPLE_DOCS: 'keep one YAML document per file; use include for more files',
  MISSING_CHAR: 'a bracket or quote is not closed',
  BLOCK_AS_IMPLICIT_KEY: 'check the indentation and the colons of the lines above',
  RESOURCE_EXHAUSTION: `nest the YAML less deeply: at most ${MAX_NESTING} levels are read`,
};

function tokensWithin(text: string): boolean {
  let n = 0;
  for (const _ of new Lexer().lex(text)) if (++n > MAX_YAML_TOKENS) return false;
  return true;
}

/** Pure: parses YAML text with positions, within the limits above; syntax errors and refusals are in `ctx`. */
export function parseYamlFile(text: string, file: string): YamlFile {
  const lines = new LineCounter();
  const within = tokensWithin(text);
  const doc = parseDocument(within ? text : '', { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const ctx = new FileContext(file, new SourceMap(doc, lines));
  const fail = (offset: number, message: string, hint: string): YamlFile => {
    const { line, column } = ctx.map.toPosition(offset);
    ctx.errors.push({ file, line, column, path: '', message, hint });
    return { ctx, doc, ok: false, data: null };
  };
  if (!within) {
    return fail(0, `the file is too big to read: more than ${count(MAX_YAML_TOKENS)} YAML tokens`, SPLIT);
  }
  if (doc.errors.length > 0) {
    // yaml stops at the first stack overflow in nested brackets and reports it at every level left open.
    const errors = doc.errors.filter((e, i) => e.code !== 'RESOURCE_EXHAUSTION' || doc.errors.findIndex((f) => f.code === e.code) === i);
    for (const e of errors) {
      const { line, column } = ctx.map.toPosition(e.pos[0]);
      const first = e.message.split('\n')[0]?.replace(/\.$/, '') ?? e.code;
      const message = e.code === 'RESOURCE_EXHAUSTION' ? `the YAML nests too deeply to read (${first})` : `YAML syntax error: ${first}`;
      // `key: {% $input.id %}` unquoted: YAML reads `{` as a mapping and trips on the `%`.
      const expression = /character %/.test(first) ? 'an expression is a string: put it in quotes, as in key: "{% $input.orderId %}"' : undefined;
      ctx.errors.push({ file, line, column, path: '', message, hint: expression ?? yamlHints[e.code] ?? 'fix the YAML syntax' });
    }
    return { ctx, doc, ok: false, data: null };
  }
  try {
    const problem = aliasProblem(doc);
    if (problem !== null) return fail(problem.node.range?.[0] ?? 0, problem.message, problem.hint);
    // The aliases are bounded above, so yaml's own guess (maxAliasCount) need not refuse any.
    const data = doc.toJS({ maxAliasCount: -1 }) as unknown;
    const deep = dataTooDeep(data);
    if (deep !== null) {
      ctx.reportTooDeep(deep.path, deep.depth, 'the data', 'nest the data less deeply; a value repeated by an alias nests as deeply as where it is repeated');
      return { ctx, doc, ok: false, data: null };
    }
    return { ctx, doc, ok: true, data };
  } catch (err) {
    return fail(0, `cannot read the YAML: ${(err as Error).message}`, 'nest the YAML less deeply');
  }
}

interface AliasProblem {
  readonly node: Node;
  readonly message: string;
  readonly hint: string;
}

/**
 * Pure: the first alias past a limit (too many anchors and aliases, too many values once
 * expanded, an alias inside the node it repeats), or null. It walks the document once, in
 * order, as yaml resolves an alias: to the last node before it with that anchor.
 */
function aliasProblem(doc: Document.Parsed): AliasProblem | null {
  const anchors = new Map<string, Node>();
  const sizes = new Map<Node, number>();
  const open = new Set<Node>();
  let marks = 0;
  let values = 0;
  let problem: AliasProblem | null = null;
  const walk = (node: unknown): number => {
    if (problem !== null) return 0;
    if (isPair(node)) return walk(node.key) + walk(node.value);
    if (!isNode(node)) return 0;
    if (node.anchor !== undefined || isAlias(node)) {
      if (++marks > MAX_YAML_ALIASES) {
        problem = { node, message: `the file has more than ${count(MAX_YAML_ALIASES)} anchors and aliases`, hint: 'write the repeated parts out, or use fewer aliases' };
        return 0;
      }
    }
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined) return 1;
      if (open.has(target)) {
        problem = { node, message: `alias \`*${node.source}\` is inside the node it repeats`, hint: 'an alias can only repeat a node that ends before it; write the value out' };
        return 0;
      }
      const size = sizes.get(target) ?? 1;
      values += size;
      if (values > MAX_YAML_VALUES) {
        const message = `the aliases expand the file to more than ${count(MAX_YAML_VALUES)} values (here \`*${node.source}\` repeats ${count(size)})`;
        problem = { node, message, hint: 'an alias repeats all that its anchor holds; write large parts once' };
      }
      return size;
    }
    if (node.anchor !== undefined) anchors.set(node.anchor, node);
    values++;
    let size = 1;
    if (isCollection(node)) {
      open.add(node);
      for (const item of node.items) size += walk(item);
      open.delete(node);
    }
    sizes.set(node, size);
    return size;
  };
  walk(doc.contents);
  return problem;
}

/** A definitions file parsed and checked against the schema. */
export interface ParsedFile {
  readonly ctx: FileContext;
  /** The file's data, or null when the YAML did not parse. */
  readonly data: unknown;
  /** Pointers (`/sagas/0`) of every node that has a schema problem, and of its parents; `''` when any has. */
  readonly invalid: ReadonlySet<string>;
}

/** Parses YAML text with positions, reporting syntax and schema errors in plain words. */
export function parseDefinitionsFile(text: string, file: string): ParsedFile {
  const { ctx, ok, data: parsed } = parseYamlFile(text, file);
  const invalid = new Set<string>();
  if (!ok) return { ctx, data: null, invalid };
  const data = parsed ?? {};
  const ajvErrors = validateDefinitions(data);
  for (const problem of explainSchemaErrors(ajvErrors, data)) ctx.report(problem.path, problem.message, problem.hint, problem.at);
  for (const e of ajvErrors) {
    const parts = e.instancePath.split('/');
    invalid.add('');
    for (let i = 2; i <= parts.length; i++) invalid.add(parts.slice(0, i).join('/'));
  }
  return { ctx, data, invalid };
}
