import type { ErrorObject } from 'ajv';
import type { PathSegment } from './errors.js';
import { show } from './errors.js';
import { roleOf } from './dsl-schema.js';
import type { AtomicDefinition } from './dsl-schema.js';
import { closest, didYouMean } from './suggest.js';

/** A schema error in plain words, at a path (of a key when `at` is `key`). */
export interface SchemaProblem {
  readonly path: PathSegment[];
  readonly at: 'key' | 'value';
  readonly message: string;
  readonly hint: string;
}

type Kind = 'type' | 'exactlyOne' | 'other';
interface Candidate extends SchemaProblem {
  readonly kind: Kind;
  readonly pointer: string;
}

interface AtomicText {
  readonly message: (v: string) => string;
  readonly hint: string;
}

type SubjectUse = 'command' | 'event' | 'reply';

/**
 * Pure: why a subject is refused, by what sagad does with it. It publishes commands to one
 * subject; it matches trigger and wait events by their exact subject; it takes replies from a
 * subscription, where `*` is one whole token and `>` the last one. `$` subjects are NATS's own.
 */
function subjectText(use: SubjectUse, raw: unknown): AtomicText {
  const s = typeof raw === 'string' ? raw : '';
  const tokens = s.split('.');
  const wild = (t: string): boolean => t.includes('*') || t.includes('>');
  if (s === '' || /\s/.test(s) || tokens.includes('')) {
    return { message: (v) => `\`${v}\` is not a NATS subject`, hint: 'write dot-separated tokens without spaces, like orders.events' };
  }
  if (s.startsWith('$')) {
    return { message: (v) => `\`${v}\` starts with \`$\`, which NATS keeps for its own subjects ($JS, $SYS)`, hint: 'use a subject of your own, like orders.events' };
  }
  if (use === 'command' && tokens.some(wild)) {
    return { message: (v) => `\`${v}\` has a wildcard, but a command goes to one subject`, hint: 'write the exact subject the participant listens on, like inventory.commands' };
  }
  if (use === 'event' && tokens.some(wild)) {
    return {
      message: (v) => `\`${v}\` has a wildcard, but sagad matches trigger and wait events by their exact subject`,
      hint: 'write the exact subject the events are published on, like orders.events',
    };
  }
  return {
    message: (v) => `\`${v}\` is not a NATS subject to subscribe to`,
    hint: 'write dot-separated tokens, the first one plain (sagad names the stream after it), where * stands for a whole token and > only for the last one, like inventory.*.events or inventory.>',
  };
}

const atomicText: Record<AtomicDefinition, AtomicText | ((raw: unknown) => AtomicText)> = {
  duration: { message: (v) => `\`${v}\` is not a duration`, hint: 'write a duration like 500ms, 30s, 10m or 1h' },
  expression: { message: (v) => `\`${v}\` is not an expression`, hint: 'write a JSONata expression as "{% ... %}"' },
  maxAttempts: { message: (v) => `\`${v}\` is not a number of attempts`, hint: 'write a whole number of at least 1, or unlimited' },
  name: { message: (v) => `\`${v}\` is not a valid name`, hint: 'use lowercase letters, digits and dashes, starting with a letter, like order-fulfillment' },
  schemaKey: { message: (v) => `\`${v}\` is not a message type and version`, hint: 'write Type@version, like OrderPlaced@1' },
  schemaSource: { message: (v) => `\`${v}\` is neither a JSON Schema nor a schema file`, hint: 'write an inline schema, or the path of a .json file relative to this file' },
  commandSubject: (raw) => subjectText('command', raw),
  eventSubject: (raw) => subjectText('event', raw),
  replySubject: (raw) => subjectText('reply', raw),
  messageType: { message: (v) => `\`${v}\` is not a message type`, hint: 'start with a letter and use letters, digits, _, . and -, like OrderPlaced' },
};

const typeWords: Record<string, [string, string]> = {
  object: ['a mapping', 'write key: value pairs, indented under this key'],
  array: ['a list', 'write a list, one "- item" per line or [a, b]'],
  string: ['text', 'write text here, quoted if it could be read as something else'],
  integer: ['a whole number', 'write a whole number like 3'],
  number: ['a number', 'write a number like 2'],
  boolean: ['true or false', 'write true or false'],
};

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the text \`${show(value)}\``;
  return `\`${show(value)}\``;
}

/** Pure: turns an ajv JSON pointer into path segments, with numbers where the data has lists. */
export function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  const out: PathSegment[] = [];
  let node = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const seg: PathSegment = Array.isArray(node) ? Number(key) : key;
    out.push(seg);
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return out;
}

function label(path: PathSegment[]): string {
  const last = [...path].reverse().find((s) => typeof s === 'string');
  return last === undefined ? 'this list' : `\`${last}\``;
}

function exactlyOne(e: ErrorObject, path: PathSegment[], branch: boolean): SchemaProblem {
  const data: Record<string, unknown> = e.data !== null && typeof e.data === 'object' ? (e.data as Record<string, unknown>) : {};
  const kinds = branch ? ['command', 'wait', 'delay', 'saga'] : ['command', 'wait', 'delay', 'saga', 'parallel', 'steps'];
  if (branch && 'parallel' in data) {
    return { path, at: 'value', message: 'parallel groups cannot be nested', hint: 'move the group to the top level of steps, or list its steps in this branch' };
  }
  if (branch && 'steps' in data) {
    return { path, at: 'value', message: 'a forEach group cannot sit in a parallel branch', hint: 'make the forEach group a top-level step' };
  }
  const present = kinds.filter((k) => k in data);
  if (present.length === 0) {
    for (const key of Object.keys(data)) {
      const near = closest(key, kinds);
      if (near !== null) return { path: [...path, key], at: 'key', message: `unknown field \`${key}\``, hint: `did you mean \`${near}\`?` };
    }
  }
  const message = branch ? 'a step in a parallel branch needs exactly one of command, wait, delay or saga' : 'a step needs exactly one of command, wait, delay, saga, parallel or steps (a forEach group)';
  const hint = present.length === 0
    ? `add ${kinds.map((k) => `\`${k}:\``).join(' or ')}`
    : `this step has ${present.map((k) => `\`${k}\``).join(' and ')}; split it into separate steps`;
  return { path, at: 'value', message, hint };
}

function translate(e: ErrorObject, data: unknown): Candidate | null {
  if (e.keyword === 'if' || e.keyword === 'propertyNames') return null;
  const path = pointerToPath(e.instancePath, data);
  const role = roleOf(e.parentSchema);
  const base = { pointer: e.instancePath, kind: 'other' as Kind };
  if (role?.kind === 'atomic') {
    const key = e.propertyName;
    const entry = atomicText[role.name];
    const text = typeof entry === 'function' ? entry(key ?? e.data) : entry;
    const value = show(key ?? e.data);
    return key === undefined
      ? { ...base, path, at: 'value', message: text.message(value), hint: text.hint }
      : { ...base, pointer: `${e.instancePath}/${key}`, path: [...path, key], at: 'key', message: text.message(value), hint: text.hint };
  }
  if (role?.kind === 'discriminator' && (e.keyword === 'oneOf' || e.keyword === 'required')) {
    return { ...base, kind: 'exactlyOne', ...exactlyOne(e, path, role.branch) };
  }
  const p = e.params as Record<string, unknown>;
  const noun = role?.kind === 'object' ? role.noun : 'mapping';
  switch (e.keyword) {
    case 'type': {
      const [word, hint] = typeWords[String(p.type)] ?? [String(p.type), ''];
      return { ...base, kind: 'type', path, at: 'value', message: `expected ${word}, got ${describe(e.data)}`, hint };
    }
    case 'additionalProperties': {
      const field = String(p.additionalProperty);
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const hint = didYouMean(field, allowed, `the fields of a ${noun} are ${allowed.map((a) => `\`${a}\``).join(', ')}`);
      return { ...base, path: [...path, field], at: 'key', message: `unknown field \`${field}\``, hint };
    }
    case 'required': {
      const field = String(p.missingProperty);
      return { ...base, path, at: 'value', message: `missing required field \`${field}\``, hint: `add \`${field}:\` to this ${noun}` };
    }
    case 'minItems':
      return { ...base, path, at: 'value', message: `${label(path)} needs at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`, hint: 'add one' };
    case 'minimum':
      return { ...base, path, at: 'value', message: `${label(path)} must be at least ${String(p.limit)}, not ${show(e.data)}`, hint: `write a number of at least ${String(p.limit)}` };
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map((v) => show(v)).join(', ');
      return { ...base, path, at: 'value', message: `\`${show(e.data)}\` is not one of ${allowed}`, hint: `write one of ${allowed}` };
    }
    case 'const':
      return { ...base, path, at: 'value', message: `${label(path)} must be ${show(p.allowedValue)}`, hint: `write ${show(p.allowedValue)} or leave it out` };
    case 'uniqueItems': {
      const item = (e.data as unknown[])[Number(p.j)];
      return { ...base, path, at: 'value', message: `${label(path)} lists \`${show(item)}\` twice`, hint: 'remove the duplicate' };
    }
    case 'minLength':
      return { ...base, path, at: 'value', message: `${label(path)} must not be empty`, hint: 'write a value or remove the entry' };
    default:
      return { ...base, path, at: 'value', message: e.message ?? 'is invalid', hint: '' };
  }
}

/** Pure: ajv's errors as plain sentences, at most the most useful one per kind of problem and node. */
export function explainSchemaErrors(errors: readonly ErrorObject[], data: unknown): SchemaProblem[] {
  const byNode = new Map<string, Candidate[]>();
  for (const e of errors) {
    const c = translate(e, data);
    if (c !== null) byNode.set(c.pointer, [...(byNode.get(c.pointer) ?? []), c]);
  }
  const out: SchemaProblem[] = [];
  for (const candidates of byNode.values()) {
    const decisive = candidates.find((c) => c.kind === 'type') ?? candidates.find((c) => c.kind === 'exactlyOne');
    const kept = decisive === undefined ? candidates : [decisive];
    const seen = new Set<string>();
    for (const { path, at, message, hint } of kept) {
      if (seen.has(message)) continue;
      seen.add(message);
      out.push({ path, at, message, hint });
    }
  }
  return out;
}
