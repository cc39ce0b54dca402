/**
 * An instance's states on its definition's graph: each step node the state of its step, a
 * forEach node its elements' progress (`reserve-lines[2]` belongs to the node `reserve-lines`,
 * `per-line[2].reserve` to the node `per-line[].reserve`), a compensation node its
 * compensation's state. Pure.
 */
import type { StepDocument } from '../../engine/api/index.js';
import type { NodeSpec } from './graph-nodes.js';

/** What the graph shows of one node on an instance's page. */
export interface NodeStatus {
  /** A public step state (`running`, `succeeded`, `compensated`, ...), or a compensation's for an undo node. */
  readonly state: string;
  /** For a forEach: its elements, `3 of 5 done` (with how many were undone or failed); else null. */
  readonly progress: string | null;
  /** A `saga` step: the id of the child instance it started, if it did. */
  readonly childInstance: string | null;
}

/** States that took effect: the work was done (and may since have been undone). */
const DID = new Set(['succeeded', 'compensating', 'compensated', 'compensation_failed']);
const BAD = new Set(['failed', 'timed_out', 'compensation_failed']);
/** The state a set of elements shows: the first of these any element is in, else theirs if they agree. */
const FIRST = ['compensation_failed', 'failed', 'timed_out', 'compensating', 'retrying', 'running'];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Pure: the element steps of a forEach node's step key, in element order. */
export function elementsOf(key: string, steps: readonly StepDocument[]): StepDocument[] {
  const inGroup = key.indexOf('[].');
  const pattern = inGroup < 0
    ? new RegExp(`^${escape(key)}\\[(\\d+)\\]$`)
    : new RegExp(`^${escape(key.slice(0, inGroup))}\\[(\\d+)\\]\\.${escape(key.slice(inGroup + 3))}$`);
  return steps.flatMap((s) => {
    const m = pattern.exec(s.name);
    return m === null ? [] : [{ s, i: Number(m[1]) }];
  }).sort((a, b) => a.i - b.i).map((x) => x.s);
}

/** Pure: the one state a group of states shows; a skipped one (its `when` was false) counts only when all are. */
export function overall(all: readonly string[], otherwise: string): string {
  const states = all.some((st) => st !== 'skipped') ? all.filter((st) => st !== 'skipped') : all;
  const first = FIRST.find((st) => states.includes(st));
  if (first !== undefined) return first;
  const [one] = states;
  if (one === undefined) return otherwise;
  if (states.every((st) => st === one)) return one;
  // Some done and some not started: the stage is under way.
  return 'running';
}

/** Pure: `3 of 5 done, 1 undone, 1 failed` (and how many were skipped) for the states of a forEach's elements. */
export function progressOf(states: readonly string[]): string {
  if (states.length === 0) return 'no elements';
  const count = (p: (st: string) => boolean) => states.filter(p).length;
  const parts = [`${count((st) => DID.has(st))} of ${states.length} done`];
  const undone = count((st) => st === 'compensated');
  const bad = count((st) => BAD.has(st));
  const skipped = count((st) => st === 'skipped');
  if (undone > 0) parts.push(`${undone} undone`);
  if (bad > 0) parts.push(`${bad} failed`);
  if (skipped > 0) parts.push(`${skipped} skipped`);
  return parts.join(', ');
}

/** The element indexes `i` a forEach group's instance has steps `group[i].s` of, in order. */
function groupIndexes(group: string, steps: readonly StepDocument[]): number[] {
  const prefix = new RegExp(`^${escape(group)}\\[(\\d+)\\]\\.`);
  return [...new Set(steps.flatMap((s) => {
    const m = prefix.exec(s.name);
    return m === null ? [] : [Number(m[1])];
  }))].sort((a, b) => a - b);
}

function stepStatus(n: NodeSpec, key: string, byName: ReadonlyMap<string, StepDocument>, steps: readonly StepDocument[]): NodeStatus | null {
  if (n.loop !== null) {
    // A step of a group: each element that has started counts, reached this step or not yet.
    const group = n.loop;
    const own = key.slice(group.length + 3);
    const elements = elementsOf(key, steps);
    const states = groupIndexes(group, steps).map((i) => elements.find((e) => e.name === `${group}[${i}].${own}`)?.state ?? 'pending');
    return states.length === 0 ? null : { state: overall(states, 'pending'), progress: progressOf(states), childInstance: null };
  }
  const own = byName.get(key);
  if (n.kind !== 'loop') return own === undefined ? null : { state: own.state, progress: null, childInstance: own.child ?? null };
  const elements = elementsOf(key, steps);
  // Before its items are evaluated a forEach has no element: its own state (pending) says it.
  if (elements.length === 0 && (own === undefined || own.state === 'pending')) return own === undefined ? null : { state: own.state, progress: null, childInstance: null };
  const states = elements.map((e) => e.state);
  return { state: overall(states, own?.state ?? 'pending'), progress: progressOf(states), childInstance: null };
}

function undoStatus(looped: boolean, key: string, byName: ReadonlyMap<string, StepDocument>, steps: readonly StepDocument[]): NodeStatus | null {
  const docs = looped ? elementsOf(key, steps) : [byName.get(key)];
  const comps = docs.flatMap((d) => (d?.compensation === null || d?.compensation === undefined ? [] : [d.compensation.state]));
  if (comps.length === 0) return null;
  const progress = looped ? `${comps.filter((st) => st === 'compensated').length} of ${comps.length} undone` : null;
  return { state: overall(comps, 'pending'), progress, childInstance: null };
}

/** A forEach group's fork: element i is done when each of the group's steps is done (or skipped) for it. */
function groupStatus(group: string, inner: readonly string[], byName: ReadonlyMap<string, StepDocument>, steps: readonly StepDocument[]): NodeStatus | null {
  const own = byName.get(group);
  const perStep = inner.map((key) => elementsOf(key, steps));
  const indexes = groupIndexes(group, steps);
  if (indexes.length === 0) return own === undefined ? null : { state: own.state, progress: own.state === 'pending' ? null : 'no elements', childInstance: null };
  const states = indexes.map((i) => {
    const mine = perStep.map((docs) => docs.find((d) => d.name.startsWith(`${group}[${i}].`))?.state ?? 'pending');
    return mine.every((st) => DID.has(st) || st === 'skipped') ? 'succeeded' : overall(mine, 'pending');
  });
  return { state: overall(states, own?.state ?? 'pending'), progress: progressOf(states), childInstance: null };
}

/** Pure: the status of each node whose step the instance has, by node id. */
export function nodeStatuses(nodes: readonly NodeSpec[], steps: readonly StepDocument[]): Map<string, NodeStatus> {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const out = new Map<string, NodeStatus>();
  for (const n of nodes) {
    if (n.step === null || n.kind === 'join') continue;
    let status: NodeStatus | null;
    if (n.kind === 'undo') {
      const target = nodes.find((m) => m.id === `step:${n.step ?? ''}`);
      status = undoStatus(target?.kind === 'loop' || n.loop !== null, n.step, byName, steps);
    }
    else if (n.kind === 'fork') {
      const inner = nodes.filter((m) => m.loop === n.step && m.kind !== 'fork' && m.kind !== 'join' && m.kind !== 'undo').map((m) => m.step ?? '');
      status = groupStatus(n.step, inner, byName, steps);
    } else status = stepStatus(n, n.step, byName, steps);
    if (status !== null) out.set(n.id, status);
  }
  return out;
}
