/**
 * `sagactl defs diff A B`: what changed between two definitions files, per saga and step.
 * Pure: compares the effective definitions (defaults applied, durations in ms) and the
 * payload templates, child saga inputs and keys, and message schemas as written.
 */
import type { DefinitionDetail, StepDetail } from '../engine/api/documents.js';
import { definitionDetail } from '../engine/api/documents.js';
import type { CompiledSaga } from '../engine/core/index.js';
import { shown } from './render/escape.js';
import type { Style } from './render/style.js';
import { dslDuration } from './render/time.js';

/** One value that differs; `old` or `new` is undefined when the field is absent on that side. */
export interface FieldChange {
  readonly path: string;
  readonly old?: unknown;
  readonly new?: unknown;
}

/** How one step differs between the two files. */
export interface StepDiff {
  readonly step: string;
  readonly change: 'added' | 'removed' | 'changed' | 'moved';
  readonly fields: readonly FieldChange[];
  /** 1-based positions among the steps, when the order changed. */
  readonly position?: { readonly old: number; readonly new: number };
}

/** How one saga differs between the two files, its fields and its steps. */
export interface SagaDiff {
  readonly saga: string;
  readonly change: 'added' | 'removed' | 'changed' | 'unchanged';
  readonly hash: { readonly old: string | null; readonly new: string | null };
  readonly fields: readonly FieldChange[];
  readonly steps: readonly StepDiff[];
  /**
   * Only when the hashes differ and no compared field does: where the definitions as written
   * (parsed, key order ignored) differ; empty when they are equal (a schema file's formatting).
   */
  readonly written?: readonly FieldChange[];
}

type Flat = Map<string, unknown>;

/** Objects become dotted paths; arrays and scalars are leaves. */
function flatten(value: unknown, prefix: string, into: Flat): Flat {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix !== '') into.set(prefix, {});
    for (const [k, v] of entries) flatten(v, prefix === '' ? k : `${prefix}.${k}`, into);
  } else if (prefix !== '') {
    into.set(prefix, value);
  }
  return into;
}

function compare(a: Flat, b: Flat): FieldChange[] {
  const out: FieldChange[] = [];
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  for (const k of keys) {
    const x = a.get(k);
    const y = b.get(k);
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    out.push({ path: k, ...(a.has(k) ? { old: x } : {}), ...(b.has(k) ? { new: y } : {}) });
  }
  return out;
}

type Raw = Record<string, unknown>;
const isRaw = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The saga as written and its schema files, from the source the loader keeps. */
function sourceOf(saga: CompiledSaga): { definition: Raw; schemaFiles: Record<string, string> } {
  try {
    const parsed = JSON.parse(saga.source) as { definition?: unknown; schemaFiles?: unknown };
    return { definition: isRaw(parsed.definition) ? parsed.definition : {}, schemaFiles: isRaw(parsed.schemaFiles) ? parsed.schemaFiles as Record<string, string> : {} };
  } catch {
    return { definition: {}, schemaFiles: {} };
  }
}

/** Raw step objects by name, parallel branches included. */
function rawSteps(definition: Raw): Map<string, Raw> {
  const out = new Map<string, Raw>();
  const walk = (steps: unknown): void => {
    if (!Array.isArray(steps)) return;
    for (const s of steps) {
      if (!isRaw(s)) continue;
      if (typeof s.name === 'string') out.set(s.name, s);
      if (Array.isArray(s.parallel)) for (const branch of s.parallel) walk(branch);
      if (Array.isArray(s.steps)) walk(s.steps);
    }
  };
  walk(definition.steps);
  return out;
}

/** Each schema as its JSON text: inline ones as written, file ones by their file's content. */
function schemas(saga: CompiledSaga): Flat {
  const { definition, schemaFiles } = sourceOf(saga);
  const out: Flat = new Map();
  const declared = isRaw(definition.schemas) ? definition.schemas : {};
  for (const [type, v] of Object.entries(declared)) {
    const text = typeof v === 'string' ? schemaFiles[v] ?? v : JSON.stringify(v);
    let canonical = text;
    try { canonical = JSON.stringify(JSON.parse(text)); } catch { /* keep the text */ }
    out.set(`schema ${type}`, canonical);
  }
  return out;
}

interface LeafView { readonly name: string; readonly flat: Flat }

/** Every step (parallel groups and their leaves) in order, each as flat fields. */
function stepViews(saga: CompiledSaga): LeafView[] {
  const detail = definitionDetail(saga);
  const raw = rawSteps(sourceOf(saga).definition);
  const out: LeafView[] = [];
  const leaf = (s: StepDetail, group: string | null, forEachGroup: string | null = null): void => {
    const { name: _name, branches: _branches, steps: _steps, ...fields } = s;
    const flat = flatten(fields, '', new Map());
    if (group !== null) flat.set('parallel group', group);
    if (forEachGroup !== null) flat.set('forEach group', forEachGroup);
    const r = raw.get(s.name);
    const command = r !== undefined && isRaw(r.command) ? r.command : undefined;
    const compensate = r !== undefined && isRaw(r.compensate) && isRaw(r.compensate.command) ? r.compensate.command : undefined;
    if (command !== undefined && 'payload' in command) flatten({ command: { payload: command.payload } }, '', flat);
    if (compensate !== undefined && 'payload' in compensate) flatten({ compensation: { command: { payload: compensate.payload } } }, '', flat);
    // A child saga step's input and key are templates, as a payload is: compared as written.
    if (s.kind === 'saga' && r !== undefined) {
      if ('input' in r) flatten({ input: r.input }, '', flat);
      if ('key' in r) flat.set('key', r.key);
    }
    out.push({ name: s.name, flat });
  };
  for (const s of detail.steps) {
    if (s.kind === 'parallel') {
      out.push({ name: s.name, flat: new Map<string, unknown>([['kind', 'parallel'], ['when', s.when], ['branches', (s.branches ?? []).map((b) => b.map((l) => l.name))]]) });
      for (const b of s.branches ?? []) for (const l of b) leaf(l, s.name);
    } else if (s.steps !== undefined) {
      // A forEach group, then each of its steps by its own name (unique in the saga).
      out.push({ name: s.name, flat: flatten({ kind: s.kind, when: s.when, items: s.items, maxConcurrency: s.maxConcurrency, maxItems: s.maxItems, steps: s.steps.map((l) => l.name) }, '', new Map()) });
      for (const l of s.steps) leaf(l, null, s.name);
    } else {
      leaf(s, null);
    }
  }
  return out;
}

function sagaFields(saga: CompiledSaga): Flat {
  const d: DefinitionDetail = definitionDetail(saga);
  const flat = flatten({ description: d.description, trigger: d.trigger, timeout: d.timeout, key: d.key }, '', new Map());
  for (const [k, v] of schemas(saga)) flat.set(k, v);
  return flat;
}

/** The names of a list of named objects (steps), or null. */
const namesOf = (l: unknown[]): string[] | null => (l.every((x) => isRaw(x) && typeof x.name === 'string') ? l.map((x) => String((x as Raw).name)) : null);

/** The paths where two parsed documents differ, key order ignored; a list of named objects (steps) by name, else by index. */
function writtenChanges(a: unknown, b: unknown, path: string, out: FieldChange[]): FieldChange[] {
  if (isRaw(a) && isRaw(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const at = path === '' ? k : `${path}.${k}`;
      if (!(k in b)) out.push({ path: at, old: a[k] });
      else if (!(k in a)) out.push({ path: at, new: b[k] });
      else writtenChanges(a[k], b[k], at, out);
    }
  } else if (Array.isArray(a) && Array.isArray(b)) {
    const na = namesOf(a);
    const nb = namesOf(b);
    if (na !== null && nb !== null && na.length === nb.length && na.every((n, i) => n === nb[i])) {
      a.forEach((x, i) => writtenChanges(x, b[i], `${path}[${na[i] ?? i}]`, out));
    } else if (na === null && nb === null && a.length === b.length) {
      a.forEach((x, i) => writtenChanges(x, b[i], `${path}[${i}]`, out));
    } else if (JSON.stringify(a) !== JSON.stringify(b)) {
      out.push({ path, old: a, new: b });
    }
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out.push({ path, old: a, new: b });
  }
  return out;
}

/** Where `a` and `b` differ as written: their definitions, and their schema files as parsed JSON. */
function written(a: CompiledSaga, b: CompiledSaga): FieldChange[] {
  const sa = sourceOf(a);
  const sb = sourceOf(b);
  const out = writtenChanges(sa.definition, sb.definition, '', []);
  const parse = (text: string | undefined): unknown => {
    try { return text === undefined ? undefined : JSON.parse(text) as unknown; } catch { return text; }
  };
  for (const file of new Set([...Object.keys(sa.schemaFiles), ...Object.keys(sb.schemaFiles)])) {
    writtenChanges(parse(sa.schemaFiles[file]), parse(sb.schemaFiles[file]), `schema file ${file}`, out);
  }
  return out;
}

function diffSteps(a: CompiledSaga, b: CompiledSaga): StepDiff[] {
  const before = stepViews(a);
  const after = stepViews(b);
  const common = (list: LeafView[], other: LeafView[]) => list.filter((s) => other.some((o) => o.name === s.name)).map((s) => s.name);
  const orderA = common(before, after);
  const orderB = common(after, before);
  const out: StepDiff[] = [];
  for (const s of after) {
    const old = before.find((o) => o.name === s.name);
    if (old === undefined) {
      out.push({ step: s.name, change: 'added', fields: [], position: { old: 0, new: after.indexOf(s) + 1 } });
      continue;
    }
    const fields = compare(old.flat, s.flat);
    const moved = orderA.indexOf(s.name) !== orderB.indexOf(s.name);
    const position = moved ? { position: { old: before.indexOf(old) + 1, new: after.indexOf(s) + 1 } } : {};
    if (fields.length > 0) out.push({ step: s.name, change: 'changed', fields, ...position });
    else if (moved) out.push({ step: s.name, change: 'moved', fields, ...position });
  }
  for (const o of before) if (!after.some((s) => s.name === o.name)) out.push({ step: o.name, change: 'removed', fields: [] });
  return out;
}

/** Pure: per saga, what changed from `a` (the old file) to `b` (the new one), in B's order then A's removed sagas. */
export function diffDefinitions(a: readonly CompiledSaga[], b: readonly CompiledSaga[]): SagaDiff[] {
  const out: SagaDiff[] = [];
  for (const nb of b) {
    const na = a.find((s) => s.name === nb.name);
    if (na === undefined) {
      out.push({ saga: nb.name, change: 'added', hash: { old: null, new: nb.hash }, fields: [], steps: stepViews(nb).map((s) => ({ step: s.name, change: 'added', fields: [] })) });
      continue;
    }
    const fields = compare(sagaFields(na), sagaFields(nb));
    const steps = diffSteps(na, nb);
    const same = na.hash === nb.hash && fields.length === 0 && steps.length === 0;
    // A hash that changed with no compared field: say what did (or that nothing parsed did), never guess.
    const unexplained = !same && fields.length === 0 && steps.length === 0 ? { written: written(na, nb) } : {};
    const change = same ? 'unchanged' : 'changed';
    out.push({ saga: nb.name, change, hash: { old: na.hash, new: nb.hash }, fields, steps, ...unexplained });
  }
  for (const na of a) {
    if (!b.some((s) => s.name === na.name)) out.push({ saga: na.name, change: 'removed', hash: { old: na.hash, new: null }, fields: [], steps: [] });
  }
  return out;
}

const durationFields = /(^|\.)(timeout|initialInterval|maxInterval)$/;

/** A value as the diff prints it: durations as `5s`, null as `none`, absent as `(none)`. */
function show(path: string, v: unknown, present: boolean): string {
  if (!present) return '(absent)';
  if (v === null) return 'none';
  if (typeof v === 'number' && durationFields.test(path)) return dslDuration(v);
  if (path.startsWith('schema ')) return typeof v === 'string' && v.length > 60 ? `${v.slice(0, 59)}…` : String(v);
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** A changed field, old → new; the values are a definition's text (a description, a template): control characters escaped. */
function fieldLine(f: FieldChange, indent: string): string {
  return `${indent}${shown(`${f.path}: ${show(f.path, f.old, 'old' in f)} → ${show(f.path, f.new, 'new' in f)}`)}\n`;
}

/** Pure: the diff as indented text; unchanged sagas are named on one line at the end. */
export function diffText(diffs: readonly SagaDiff[], style: Style): string {
  const paint = (change: string, s: string) => (change === 'added' ? style.green(s) : change === 'removed' ? style.red(s) : change === 'unchanged' ? s : style.yellow(s));
  let out = '';
  const unchanged = diffs.filter((d) => d.change === 'unchanged').map((d) => d.saga);
  for (const d of diffs) {
    if (d.change === 'unchanged') continue;
    const hash = d.change === 'changed' && d.hash.old !== d.hash.new ? ` (hash ${d.hash.old?.slice(0, 12) ?? ''} → ${d.hash.new?.slice(0, 12) ?? ''})` : '';
    const count = d.change === 'added' ? ` (${d.steps.length} step${d.steps.length === 1 ? '' : 's'})` : '';
    out += `saga ${style.bold(d.saga)}: ${paint(d.change, d.change)}${hash}${count}\n`;
    if (d.change !== 'changed') continue;
    for (const f of d.fields) out += fieldLine(f, '  ');
    for (const s of d.steps) {
      const where = s.position === undefined ? '' : s.change === 'added' ? ` (position ${s.position.new})` : ` (position ${s.position.old} → ${s.position.new})`;
      out += `  step ${s.step}: ${paint(s.change, s.change)}${where}\n`;
      for (const f of s.fields) out += fieldLine(f, '    ');
    }
    if (d.fields.length > 0 || d.steps.length > 0) continue;
    if ((d.written ?? []).length === 0) out += '  no field differs; the text changed (formatting, comments or the order of keys)\n';
    else out += '  a field this sagactl does not compare differs, or a value is written another way (1m for 60s):\n';
    for (const f of d.written ?? []) out += fieldLine(f, '    ');
  }
  if (out === '') out = 'No differences.\n';
  if (unchanged.length > 0) out += `unchanged: ${unchanged.join(', ')}\n`;
  return out;
}
