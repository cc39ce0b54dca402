import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import schema from './saga-definitions.schema.json' with { type: 'json' };

/** The JSON Schema of definitions files, as editors also read it. */
export const definitionsSchema = schema;

/** Schemas whose errors are explained as one sentence about the value, not keyword by keyword. */
export const atomicDefinitions = [
  'duration', 'expression', 'maxAttempts', 'name', 'schemaKey', 'schemaSource', 'commandSubject', 'eventSubject',
  'replySubject', 'messageType',
] as const;
/** The name of one of the atomic definitions. */
export type AtomicDefinition = (typeof atomicDefinitions)[number];

/** What the schema object behind an error stands for. */
export type SchemaRole =
  | { readonly kind: 'atomic'; readonly name: AtomicDefinition }
  | { readonly kind: 'discriminator'; readonly branch: boolean }
  | { readonly kind: 'object'; readonly noun: string };

const roles = new Map<unknown, SchemaRole>();
const defs = schema.definitions;

function markDeep(node: unknown, role: SchemaRole): void {
  if (node === null || typeof node !== 'object') return;
  roles.set(node, role);
  Object.values(node).forEach((child) => markDeep(child, role));
}

for (const name of atomicDefinitions) markDeep(defs[name], { kind: 'atomic', name });
for (const [def, branch] of [[defs.step, false], [defs.branchStep, true]] as const) {
  roles.set(def, { kind: 'discriminator', branch });
  def.oneOf.forEach((alt) => roles.set(alt, { kind: 'discriminator', branch }));
}
const nouns: [unknown, string][] = [
  [schema, 'file'], [defs.saga, 'saga'], [defs.start, 'start block'], [defs.start.properties.on, 'start.on block'],
  [defs.defaults, 'defaults block'], [defs.retry, 'retry block'], [defs.commandStep, 'command step'],
  [defs.waitStep, 'wait step'], [defs.waitStep.properties.wait, 'wait block'], [defs.parallelStep, 'parallel group'],
  [defs.forEachGroup, 'forEach group'], [defs.forEach, 'forEach block'],
  [defs.message, 'command'], [defs.reply, 'reply'], [defs.compensate, 'compensate block'],
];
for (const [node, noun] of nouns) roles.set(node, { kind: 'object', noun });

/** Pure: what a schema object (an ajv error's parentSchema) stands for, if it is known. */
export function roleOf(schemaObject: unknown): SchemaRole | undefined {
  return roles.get(schemaObject);
}

let validator: ValidateFunction | undefined;
let storedValidator: ValidateFunction | undefined;

/** The subject rule of the schema before the three kinds of subject (command, event, reply) had rules of their own. */
const ANY_SUBJECT = { type: 'string', pattern: '^[^\\s.]+(\\.[^\\s.]+)*$' };

/**
 * Validates a parsed definitions file against the schema; returns all of ajv's errors. With
 * `stored`, a definition the loader stored and compiles again for the instances pinned to it:
 * subjects are checked by the rule they were stored under, so an instance started before a
 * stricter rule does not stop sagad from starting.
 */
export function validateDefinitions(data: unknown, stored = false): ErrorObject[] {
  const v = stored
    ? storedValidator ??= new Ajv({ allErrors: true, verbose: true, strictTypes: false }).compile({
      ...schema, definitions: { ...schema.definitions, commandSubject: ANY_SUBJECT, eventSubject: ANY_SUBJECT, replySubject: ANY_SUBJECT },
    })
    : validator ??= new Ajv({ allErrors: true, verbose: true, strictTypes: false }).compile(schema);
  return v(data) ? [] : [...(v.errors ?? [])];
}
