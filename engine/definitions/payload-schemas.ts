import { Ajv } from 'ajv';
import type { RegExpEngine, RegExpLike } from 'ajv/dist/types/index.js';
import { RE2JS } from 're2js';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { PayloadValidator } from '../core/definition.js';
import type { DefinitionPath } from './errors.js';
import type { FileContext } from './context.js';
import { toRe2 } from './pattern-re2.js';
import { didYouMean } from './suggest.js';

/** Where a saga's schema files come from: the disk beside its YAML file, or its stored source. */
export interface SchemaFiles {
  /** The text of the schema file at `path` as written in the YAML; throws when it cannot be read. */
  read(path: string): string;
  /** What to tell the user when a file cannot be read. */
  readonly hint: string;
}

/** The compiled `schemas` of a saga, and the text of each schema file by its written path. */
export interface CompiledSchemas {
  readonly validators: Record<string, PayloadValidator>;
  readonly fileContents: Record<string, string>;
}

// strictSchema: a keyword ajv does not know (`requried`, `propertis`) is an error, not a rule
// silently left out; the other strict checks stay off. `format` is an annotation (not checked).
const options = { allErrors: true, strict: false, strictSchema: true, validateFormats: false, logger: false } as const;
/** A stored definition compiles as it did when it was stored, before unknown keywords were refused. */
const lenient = { ...options, strictSchema: false } as const;

/** What ajv accepts as a keyword's name. */
const KEYWORD_NAME = /^[a-z_$][a-z0-9_$:-]*$/i;

/** Keywords that annotate a schema without a rule: `x-...` and OpenAPI's `example`. */
const isAnnotation = (key: string) => key.startsWith('x-') || key === 'example';

/**
 * The engine of the schemas' `pattern`s (and `patternProperties`): RE2 (re2js), whose matching
 * takes time linear in the text, so that no message can make a pattern backtrack for minutes
 * with the event loop held (`^(a+)+$` against 30 a's and a b). A pattern must be valid
 * ECMA-262 (JSON Schema's dialect), and is run by RE2 with the same meaning (pattern-re2.ts);
 * one RE2 cannot run so (lookaround, backreferences, a repeat over 1000) falls back to
 * JavaScript's RegExp, and is noted in `backtracking` for `sagactl validate` to warn about.
 */
function regExpEngine(backtracking: string[]): RegExpEngine {
  const engine = (pattern: string, flags: string): RegExpLike => {
    // Throws for what JSON Schema's dialect does not allow, whatever RE2 would make of it.
    const native = new RegExp(pattern, flags);
    try {
      const re2 = toRe2(pattern);
      if (re2 === null) throw new Error('not in RE2');
      const re = RE2JS.compile(re2);
      // ajv keeps one compiled pattern per toString(): it must name the pattern.
      const like: RegExpLike = { test: (s: string) => re.matcher(s).find() };
      return Object.assign(like, { toString: () => `re2:/${pattern}/` });
    } catch {
      backtracking.push(pattern);
      return native;
    }
  };
  return Object.assign(engine, { code: 're2js' });
}

function newAjv(schema: object, strict = true, backtracking: string[] = []): Ajv {
  const dialect = String((schema as { $schema?: unknown }).$schema ?? '');
  const o = { ...(strict ? options : lenient), code: { regExp: regExpEngine(backtracking) } };
  const ajv = dialect.includes('2020-12') ? new Ajv2020(o) : dialect.includes('2019-09') ? new Ajv2019(o) : new Ajv(o);
  // Lenient: unknown keywords are ignored anyway. A name ajv cannot take as a keyword is a
  // property's name or data (`x-request.id`), not an annotation: left alone.
  if (strict) for (const keyword of annotations(schema)) if (KEYWORD_NAME.test(keyword)) ajv.addKeyword({ keyword });
  return ajv;
}

/** The annotation keywords anywhere in `schema` (property names too: registering one is harmless). */
function annotations(schema: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) for (const item of schema) annotations(item, found);
  else if (schema !== null && typeof schema === 'object') {
    for (const [key, value] of Object.entries(schema)) {
      if (isAnnotation(key)) found.add(key);
      annotations(value, found);
    }
  }
  return found;
}

/** What to write instead of a keyword ajv does not know: the keyword it is close to, or how to name an annotation. */
export function unknownKeywordHint(schema: object, keyword: string): string {
  return didYouMean(keyword, Object.keys(newAjv(schema).RULES.keywords),
    `JSON Schema has no keyword \`${keyword}\`; an annotation of your own is named x-${keyword}, which is ignored`);
}

/**
 * Compiles a JSON Schema into a validator; throws when the schema is not valid, or (unless
 * `strict` is false, for a stored definition) names a keyword JSON Schema does not have.
 */
export function compilePayloadSchema(schema: object, strict = true): PayloadValidator {
  const backtracking: string[] = [];
  const ajv = newAjv(schema, strict, backtracking);
  const validate = ajv.compile(schema);
  const validator = (payload: unknown) => (validate(payload) ? null : ajv.errorsText(validate.errors, { dataVar: 'payload' }));
  return backtracking.length === 0 ? validator : Object.assign(validator, { backtracking: [...new Set(backtracking)] });
}

/** Compiles a saga's `schemas` block, reporting keys, files and schemas that are not usable. */
export function compileSchemas(
  ctx: FileContext,
  raw: Readonly<Record<string, object | string>> | undefined,
  path: DefinitionPath,
  files: SchemaFiles,
): CompiledSchemas {
  const validators: Record<string, PayloadValidator> = {};
  const fileContents: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [key, source] of Object.entries(raw ?? {})) {
    const at = [...path, key];
    const id = key.includes('@') ? key : `${key}@1`;
    if (seen.has(id)) {
      ctx.report(at, `\`${id}\` has two schemas`, 'a key without @ means @1; keep one of them', 'key');
      continue;
    }
    seen.add(id);
    let schema: unknown = source;
    let what = `the schema for \`${id}\``;
    if (typeof source === 'string') {
      what = `the schema file \`${source}\``;
      let text: string;
      try {
        text = files.read(source);
      } catch (err) {
        ctx.report(at, `cannot read ${what}: ${(err as Error).message}`, files.hint);
        continue;
      }
      fileContents[source] = text;
      try {
        schema = JSON.parse(text);
      } catch (err) {
        ctx.report(at, `${what} is not JSON: ${(err as Error).message}`, 'a schema file holds one JSON Schema as JSON');
        continue;
      }
    }
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
      ctx.report(at, `${what} is not a JSON object`, 'a schema is a JSON object, like { type: object }');
      continue;
    }
    try {
      validators[id] = compilePayloadSchema(schema, !ctx.stored);
    } catch (err) {
      const unknown = /unknown keyword: "([^"]+)"/.exec((err as Error).message)?.[1];
      ctx.report(at, `${what} is not a valid JSON Schema: ${(err as Error).message}`,
        unknown === undefined ? 'fix the schema so that it follows JSON Schema (draft-07 unless it names another $schema)' : unknownKeywordHint(schema, unknown));
    }
  }
  return { validators, fileContents };
}
