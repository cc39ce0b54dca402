import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decide, evolve, isRejection, start, type CompiledSaga, type Env, type IncomingMessage, type InstanceState, type SagaEvent, type TimerRef,
} from '../../engine/core/index.js';
import { loadDefinitionsFile, formatDefinitionError } from '../../engine/definitions/index.js';
import { setExpressionLimits } from '../../engine/definitions/expression-limits.js';
import { summarizeEffect, summarizeEvent, summarizeState } from './summarize.js';

export const fixtures = join(import.meta.dirname, 'fixtures');

// The traces must give the same result on a loaded machine: the 50 ms wall-clock limit of one
// evaluation (a guard for the server's event loop) failed a cold first JSONata call now and
// then under a load of 18 on two cores, and an expression error is a different trace.
setExpressionLimits({ timeoutMs: 60_000 });

const loaded = new Map<string, Record<string, CompiledSaga>>();

/**
 * Loads a fixture definitions file and returns its sagas by name; throws with every error.
 * Compiled once per file and process: the sagas are immutable, and compiling each golden
 * trace's file again made the table most of a mutation run's time.
 */
export function loadFixture(file: string): Record<string, CompiledSaga> {
  const known = loaded.get(file);
  if (known !== undefined) return known;
  const r = loadDefinitionsFile(join(fixtures, file));
  if (!r.ok) throw new Error(r.errors.map(formatDefinitionError).join('\n'));
  const sagas = Object.fromEntries(r.sagas.map((s) => [s.name, s]));
  loaded.set(file, sagas);
  return sagas;
}

/** A deterministic Env: ids count up from a shared counter; random is fixed unless given. */
export function testEnv(now: number, counter: { n: number }, random = 0.5): Env {
  return { now, newId: () => `m${++counter.n}`, random: () => random };
}

export interface TraceInput {
  /** `child`: the child of `step` ended with `outcome`; `parent`: the parent compensates (for an instance started with `parent`). */
  do: 'start' | 'reply' | 'event' | 'timer' | 'cancel' | 'retry' | 'child' | 'parent';
  outcome?: 'completed' | 'compensated' | 'failed'; output?: unknown; child?: string;
  parent?: { id: string; saga: string; step: string };
  at: number;
  random?: number;
  input?: unknown; key?: string; id?: string; correlationId?: string;
  step?: string; attempt?: number; undo?: boolean; type?: string; payload?: unknown; replyId?: string;
  subject?: string; correlation?: string;
  timer?: string; reason?: string;
}

export interface TraceOutput { events: string[]; effects: string[]; ignored?: string; matchFailure?: string; rejected?: string }

/** Replays a trace; returns per input what the core emitted, the final state and the journal. */
export function runTrace(saga: CompiledSaga, inputs: TraceInput[]) {
  const counter = { n: 0 };
  const journal: SagaEvent[] = [];
  const timers = new Map<string, TimerRef>();
  const timersFired = new Set<string>();
  let state: InstanceState | undefined;
  const outputs: TraceOutput[] = [];
  for (const [i, inp] of inputs.entries()) {
    const env = testEnv(inp.at, counter, inp.random);
    let d;
    if (inp.do === 'start') {
      d = start(saga, { id: inp.id ?? 'i1', input: inp.input ?? {}, key: inp.key ?? null, correlationId: inp.correlationId ?? 'c1', event: null, causationId: 'req1', ...(inp.parent === undefined ? {} : { parent: inp.parent }) }, env);
    } else {
      if (state === undefined) throw new Error(`input ${i}: no instance yet`);
      if (inp.do === 'timer' && inp.timer !== undefined) timersFired.add(inp.timer);
      d = decide(saga, state, toInput(state, inp, timers, i), env);
    }
    if (isRejection(d)) {
      outputs.push({ events: [], effects: [], rejected: d.rejected.code });
      continue;
    }
    for (const e of d.effects) {
      if (e.type === 'ScheduleTimer') timers.set(e.timerId, e.timer);
      if (e.type === 'CancelTimer') timers.delete(e.timerId);
    }
    // A fired timer is gone, as its row is in the store.
    for (const id of timersFired) timers.delete(id);
    timersFired.clear();
    journal.push(...d.events);
    state = d.state;
    const out: TraceOutput = { events: d.events.map(summarizeEvent), effects: d.effects.map(summarizeEffect) };
    if (d.ignored !== null) out.ignored = d.ignored;
    if (d.matchFailure !== undefined) out.matchFailure = `${d.matchFailure.step}: ${d.matchFailure.error}`;
    outputs.push(out);
  }
  if (state === undefined) throw new Error('trace started nothing');
  const replayed = journal.reduce<InstanceState | undefined>((s, e) => evolve(s, e), undefined);
  return { outputs, state, final: summarizeState(state), replayed, journal, pendingTimers: [...timers.keys()].sort() };
}

function toInput(state: InstanceState, inp: TraceInput, timers: Map<string, TimerRef>, i: number) {
  switch (inp.do) {
    case 'reply': {
      const st = state.steps[need(inp.step, 'step', i)];
      const cmds = inp.undo ? st?.compensation?.commands : st?.commands;
      const cmd = cmds?.[(inp.attempt ?? cmds.length) - 1];
      if (cmd === undefined) throw new Error(`input ${i}: step ${inp.step} has no ${inp.undo ? 'undo' : 'do'} attempt ${inp.attempt ?? 'yet'}`);
      return { type: 'ReplyReceived' as const, message: message(inp, cmd, state.correlationId, i) };
    }
    case 'event':
      return { type: 'EventReceived' as const, subject: need(inp.subject, 'subject', i), message: message(inp, 'none', inp.correlation ?? state.correlationId, i) };
    case 'timer': {
      const id = need(inp.timer, 'timer', i);
      return { type: 'TimerFired' as const, timer: timers.get(id) ?? parseTimer(id) };
    }
    case 'cancel': return { type: 'CancelRequested' as const, reason: inp.reason ?? '' };
    case 'retry': return { type: 'RetryRequested' as const };
    case 'child': {
      const step = need(inp.step, 'step', i);
      const st = state.steps[step];
      const childId = inp.child ?? st?.compensation?.awaiting ?? st?.commands.at(-1) ?? 'none';
      return { type: 'ChildEnded' as const, step, childId, outcome: need(inp.outcome, 'outcome', i), output: inp.output ?? null, reason: inp.reason ?? null };
    }
    case 'parent': return { type: 'ParentCompensates' as const, parentId: state.parent?.id ?? 'none' };
    default: throw new Error(`input ${i}: unknown do ${inp.do}`);
  }
}

function message(inp: TraceInput, causationId: string, correlationId: string, i: number): IncomingMessage {
  return {
    eventId: inp.replyId ?? `r${i}`, eventType: need(inp.type, 'type', i), correlationId, causationId,
    aggregateId: 'agg', version: 1, payload: inp.payload ?? {},
  };
}

/** Timers that were never scheduled (stale on purpose) are named by their id. */
function parseTimer(id: string): TimerRef {
  const [kind, step, attempt] = id.split(':');
  if (kind === 'deadline') return { kind };
  if ((kind === 'wait_timeout' || kind === 'delay' || kind === 'child_timeout') && step !== undefined) return { kind, step };
  if ((kind === 'attempt_timeout' || kind === 'retry' || kind === 'comp_timeout' || kind === 'comp_retry') && step !== undefined) {
    return { kind, step, attempt: Number(attempt) };
  }
  throw new Error(`cannot parse timer id ${id}`);
}

function need<T>(v: T | undefined, what: string, i: number): T {
  if (v === undefined) throw new Error(`input ${i}: ${what} is required`);
  return v;
}

export function readText(file: string): string {
  return readFileSync(file, 'utf8');
}
