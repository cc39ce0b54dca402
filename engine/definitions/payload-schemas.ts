import { Ajv } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { PayloadValidator } from '../core/definition.js';
import type { DefinitionPath } from './errors.js';
import type { FileContext } from './context.js';

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

const options = { allErrors: true, strict: false, validateFormats: false, logger: false } as const;

function newAjv(schema: object): Ajv {
  const dialect = String((schema as { $schema?: unknown }).$schema ?? '');
  if (dialect.includes('2020-12')) return new Ajv2020(options);
  if (dialect.includes('2019-09')) return new Ajv2019(options);
  return new Ajv(options);
}

/** Compiles a JSON Schema into a validator; throws when the schema is not valid. */
export function compilePayloadSchema(schema: object): PayloadValidator {
  const ajv = newAjv(schema);
  const validate = ajv.compile(schema);
  return (payload) => (validate(payload) ? null : ajv.errorsText(validate.errors, { dataVar: 'payload' }));
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
      validators[id] = compilePayloadSchema(schema);
    } catch (err) {
      ctx.report(at, `${what} is not a valid JSON Schema: ${(err as Error).message}`, 'fix the schema so that it follows JSON Schema (draft-07 unless it names another $schema)');
    }
  }
  return { validators, fileContents };
}
