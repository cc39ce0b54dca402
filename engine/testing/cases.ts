/**
 * An author's own cases, in YAML: an input, scripted replies per step (per attempt, with
 * delays and payloads), an optional cancel, and the expected outcome and effects. Problems in
 * the file are reported like the definitions loader does: file, line, column, what to write.
 */
import { isMap, isSeq } from 'yaml';
import type { CompiledSaga } from '../core/index.js';
import { leafSteps } from '../core/index.js';
import { leafOf } from './leaves.js';
import type { FileContext } from '../definitions/context.js';
import { parseDuration } from '../definitions/duration.js';
import { sortErrors, type DefinitionError, type DefinitionPath } from '../definitions/errors.js';
import { parseYamlFile, readBoundedFile } from '../definitions/parse-file.js';
import { didYouMean } from '../definitions/suggest.js';
import { effectMatches } from './effects.js';
import { checkScript, parseReply, ScriptError, type CancelAt, type Script, type ScriptedReply } from './script.js';
import { runScenario, type ScenarioResult } from './suite.js';

/** One case as read from the file. */
export interface SagaCase {
  readonly name: string;
  readonly saga: string;
  readonly file: string;
  readonly line: number;
  readonly input?: unknown;
  readonly script: Script;
  readonly expect: { readonly outcome?: string; readonly effects?: readonly string[] };
}

export type CasesResult = { ok: true; cases: SagaCase[] } | { ok: false; errors: DefinitionError[] };

/** A case run: what differed from the expectation (empty when it passed). */
export interface CaseResult {
  readonly case: SagaCase;
  readonly result: ScenarioResult;
  readonly mismatches: readonly string[];
  /** The expectation held and so did the guarantee. */
  readonly ok: boolean;
}

/** The shape of a cases file, for hints. */
export const CASES_SYNTAX = 'a cases file is `cases:` with a list of { name, saga, input, '
  + 'replies: { STEP: REPLY or [REPLY, ...] }, undo: { STEP: ... }, cancel: STEP or DURATION, expect: { outcome, effects: [...] } }';
const caseKeys = ['name', 'saga', 'input', 'replies', 'undo', 'cancel', 'expect'];
const expectKeys = ['outcome', 'effects'];
const outcomes = ['completed', 'compensated', 'failed', 'running', 'compensating', 'rejected'];
const REPLY = 'write a reply as ok, fail, retryable, timeout or late with an optional :DELAY and *COUNT '
  + '(like retryable*2 or ok:3s), or as { reply: ok, delay: 2s, payload: {...} }';

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Reads and checks a cases file against the loaded sagas; never throws for bad input. */
export function loadCases(file: string, sagas: Readonly<Record<string, CompiledSaga>>): CasesResult {
  const r = readBoundedFile(file);
  if (!r.ok) {
    const message = `cannot read the cases file: ${r.message}`;
    return { ok: false, errors: [{ file, line: 1, column: 1, path: '', message, hint: r.hint ?? 'check the path and the permissions' }] };
  }
  return parseCases(r.text, file, sagas);
}

/** Pure: the cases of a YAML text, or every problem in it located by line and column. */
export function parseCases(text: string, file: string, sagas: Readonly<Record<string, CompiledSaga>>): CasesResult {
  // The definitions' reader: syntax errors, alias bombs and oversized YAML come back as errors, never thrown.
  const { ctx, doc, ok, data } = parseYamlFile(text, file);
  if (!ok) return { ok: false, errors: ctx.errors };
  const root = doc.contents;
  if (!isMap(root) || !isRecord(data) || !Array.isArray(data.cases) || !isSeq(root.get('cases', true))) {
    ctx.report([], 'the file has no `cases:` list', CASES_SYNTAX);
    return { ok: false, errors: ctx.errors };
  }
  for (const key of Object.keys(data)) if (key !== 'cases' && key !== 'version') ctx.report([key], `unknown field \`${key}\``, CASES_SYNTAX, 'key');
  const cases: SagaCase[] = [];
  data.cases.forEach((raw: unknown, i: number) => {
    const c = readCase(ctx, raw, ['cases', i], sagas);
    if (c !== null) cases.push(c);
  });
  return ctx.errors.length > 0 ? { ok: false, errors: sortErrors(ctx.errors) } : { ok: true, cases };
}

function readCase(ctx: FileContext, raw: unknown, path: DefinitionPath, sagas: Readonly<Record<string, CompiledSaga>>): SagaCase | null {
  const before = ctx.errors.length;
  if (!isRecord(raw)) {
    ctx.report(path, 'a case is a mapping', CASES_SYNTAX);
    return null;
  }
  for (const key of Object.keys(raw)) if (!caseKeys.includes(key)) ctx.report([...path, key], `unknown field \`${key}\``, didYouMean(key, caseKeys, CASES_SYNTAX), 'key');
  const line = ctx.map.position(path).line;
  const name = typeof raw.name === 'string' ? raw.name : `case ${Number(path[1]) + 1}`;
  const names = Object.keys(sagas);
  let sagaName = typeof raw.saga === 'string' ? raw.saga : names.length === 1 ? names[0] : undefined;
  if (raw.saga !== undefined && typeof raw.saga !== 'string') ctx.report([...path, 'saga'], '`saga` is not a name', 'write the name of a saga in the definitions file');
  else if (sagaName === undefined) ctx.report(path, 'the case does not say which saga it runs', `add saga: with one of ${names.join(', ')}`);
  else if (sagas[sagaName] === undefined) {
    ctx.report([...path, 'saga'], `the definitions have no saga \`${sagaName}\``, didYouMean(sagaName, names, `the sagas are ${names.join(', ')}`));
    sagaName = undefined;
  }
  const saga = sagaName === undefined ? undefined : sagas[sagaName];
  const doReplies = readReplies(ctx, raw.replies, [...path, 'replies'], saga, false);
  const undoReplies = readReplies(ctx, raw.undo, [...path, 'undo'], saga, true);
  const cancel = readCancel(ctx, raw.cancel, [...path, 'cancel'], saga);
  const expect = readExpect(ctx, raw.expect, [...path, 'expect']);
  if (saga === undefined || ctx.errors.length > before) return null;
  return { name, saga: saga.name, file: ctx.file, line, ...(raw.input === undefined ? {} : { input: raw.input }), script: { do: doReplies, undo: undoReplies, cancel }, expect };
}

function readReply(ctx: FileContext, raw: unknown, path: DefinitionPath): ScriptedReply[] {
  try {
    if (typeof raw === 'string') return parseReply(raw);
    if (isRecord(raw)) {
      for (const key of Object.keys(raw)) if (!['reply', 'delay', 'payload', 'times'].includes(key)) ctx.report([...path, key], `unknown field \`${key}\``, REPLY, 'key');
      const [one] = parseReply(typeof raw.reply === 'string' ? raw.reply : '');
      if (one === undefined) return [];
      let delay = one.delay;
      if (raw.delay !== undefined) {
        delay = typeof raw.delay === 'string' ? parseDuration(raw.delay) : null;
        if (delay === null) ctx.report([...path, 'delay'], '`delay` is not a duration', 'write a delay like 200ms, 3s or 1m');
      }
      const n = raw.times === undefined ? 1 : raw.times;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 100) ctx.report([...path, 'times'], '`times` must be a whole number from 1 to 100', REPLY);
      const reply: ScriptedReply = { kind: one.kind, delay, ...(raw.payload === undefined ? {} : { payload: raw.payload }) };
      return Array.from({ length: typeof n === 'number' && n >= 1 && n <= 100 ? n : 1 }, () => reply);
    }
  } catch (err) {
    if (!(err instanceof ScriptError)) throw err;
    ctx.report(isRecord(raw) ? [...path, 'reply'] : path, err.message, err.hint);
    return [];
  }
  ctx.report(path, 'a reply is a word or a mapping', REPLY);
  return [];
}

function readReplies(ctx: FileContext, raw: unknown, path: DefinitionPath, saga: CompiledSaga | undefined, undo: boolean): Record<string, ScriptedReply[]> {
  const out: Record<string, ScriptedReply[]> = {};
  if (raw === undefined) return out;
  if (!isRecord(raw)) {
    ctx.report(path, `\`${String(path.at(-1))}\` is a mapping from step names to replies`, 'write it like { charge-payment: fail, reserve-inventory: [retryable, ok] }');
    return out;
  }
  for (const [step, value] of Object.entries(raw)) {
    const at = [...path, step];
    const items = Array.isArray(value) ? value.flatMap((v, i) => readReply(ctx, v, [...at, i])) : readReply(ctx, value, at);
    if (saga === undefined) continue;
    // An element's step (`reserve[2]`, `lines[2].pick`) is a step too.
    if (leafOf(saga, step) === undefined) {
      const names = leafSteps(saga).map((l) => l.name);
      ctx.report(at, `saga ${saga.name} has no step \`${step}\``, didYouMean(step, names, `its steps are ${names.join(', ')}`), 'key');
      continue;
    }
    try {
      checkScript(saga, { do: undo ? {} : { [step]: items }, undo: undo ? { [step]: items } : {}, cancel: null });
      out[step] = items;
    } catch (err) {
      if (!(err instanceof ScriptError)) throw err;
      ctx.report(at, err.message, err.hint);
    }
  }
  return out;
}

function readCancel(ctx: FileContext, raw: unknown, path: DefinitionPath, saga: CompiledSaga | undefined): CancelAt | null {
  if (raw === undefined) return null;
  const hint = 'write cancel: STEP (while STEP awaits its reply) or cancel: DURATION (like 2s, from the start)';
  if (typeof raw !== 'string') {
    ctx.report(path, '`cancel` is neither a step nor a time', hint);
    return null;
  }
  if (/^\d/.test(raw)) {
    const at = parseDuration(raw);
    if (at === null) ctx.report(path, `\`${raw}\` is not a duration`, hint);
    return at === null ? null : { at };
  }
  if (saga !== undefined && leafOf(saga, raw) === undefined) ctx.report(path, `saga ${saga.name} has no step \`${raw}\``, hint);
  return { step: raw };
}

function readExpect(ctx: FileContext, raw: unknown, path: DefinitionPath): SagaCase['expect'] {
  if (raw === undefined) return {};
  if (!isRecord(raw)) {
    ctx.report(path, '`expect` is a mapping', 'write it like { outcome: compensated, effects: [do reserve-inventory ok, ...] }');
    return {};
  }
  for (const key of Object.keys(raw)) if (!expectKeys.includes(key)) ctx.report([...path, key], `unknown field \`${key}\``, didYouMean(key, expectKeys, 'expect takes outcome and effects'), 'key');
  const out: { outcome?: string; effects?: string[] } = {};
  if (raw.outcome !== undefined) {
    if (typeof raw.outcome === 'string' && outcomes.includes(raw.outcome)) out.outcome = raw.outcome;
    else ctx.report([...path, 'outcome'], `\`${String(raw.outcome)}\` is not an outcome`, didYouMean(String(raw.outcome), outcomes, `write one of ${outcomes.join(', ')}`));
  }
  if (raw.effects !== undefined) {
    if (Array.isArray(raw.effects) && raw.effects.every((e) => typeof e === 'string')) out.effects = raw.effects as string[];
    else ctx.report([...path, 'effects'], '`effects` is a list of lines', 'write lines as sagactl test prints them, like `do charge-payment fail` or `undo reserve-inventory ok`');
  }
  return out;
}

/** Pure: runs a case and compares it with its expectation. */
export function runCase(saga: CompiledSaga, c: SagaCase): CaseResult {
  const result = { ...runScenario(saga, { name: c.name, kind: 'happy', script: c.script, ...(c.input === undefined ? {} : { input: c.input }) }), kind: 'case' as const };
  const mismatches: string[] = [];
  if (c.expect.outcome !== undefined && c.expect.outcome !== result.outcome) mismatches.push(`expected outcome ${c.expect.outcome}, got ${result.outcome}`);
  const want = c.expect.effects;
  if (want !== undefined) {
    const got = result.effects;
    const n = Math.max(want.length, got.length);
    for (let i = 0; i < n; i++) {
      const w = want[i];
      const g = got[i];
      if (w !== undefined && g !== undefined && effectMatches(w, g)) continue;
      mismatches.push(`effect ${i + 1}: expected ${w === undefined ? 'nothing more' : `\`${w}\``}, got ${g === undefined ? 'nothing more' : `\`${g}\``}`);
      break;
    }
  }
  return { case: c, result, mismatches, ok: mismatches.length === 0 && result.ok };
}
