/**
 * How each step kind looks in the definition graph: its node's shape (kind), label, second
 * line and tooltip, and the node of its compensation. Pure: no layout, no DOM.
 */
import { assertNever } from '../../engine/core/assert-never.js';
import { dslDuration } from '../../cli/render/time.js';
import type { StepDetail } from '../../engine/api/index.js';

/** `loop`: a forEach step; `delay`: a durable wait; `child`: a step that runs a child saga. */
export type NodeKind = 'start' | 'end' | 'step' | 'wait' | 'loop' | 'delay' | 'child' | 'fork' | 'join' | 'undo';

/** A node before layout. */
export interface NodeSpec {
  readonly id: string;
  readonly kind: NodeKind;
  readonly label: string;
  /** The line under the label (the pivot's note, what a wait, loop, delay or child step does), or null. */
  readonly note: string | null;
  /** The tooltip: what the node means, in a sentence. */
  readonly title: string;
  /**
   * The step this node is, undoes, or (a forEach group's fork and join) opens and closes; null
   * for start and end and a parallel group's fork and join. A step inside a forEach group is
   * `group[].step`, the name its elements `group[i].step` share.
   */
  readonly step: string | null;
  readonly pivot: boolean;
  /** The step's `when` condition, if it has one. */
  readonly when: string | null;
  /** A `saga` step and its compensation: the child saga's name (the node links to its definition). */
  readonly child: string | null;
  /** The forEach group the node is drawn inside, or null. */
  readonly loop: string | null;
}

/** The second line of the pivot's node. */
export const PIVOT_NOTE = 'pivot: no undo after this';
const WAIT_NOTE = 'waits for an event';

/** An expression's source without its `{% %}`, cut to `max` characters. */
export function shortExpr(source: string | null | undefined, max = 40): string | null {
  if (source === null || source === undefined) return null;
  const s = source.replace(/^\{%\s*/, '').replace(/\s*%\}$/, '');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** What a forEach runs over and how many at once: `for each $input.lines, ≤4 at once`. */
export function loopNote(s: StepDetail): string {
  const n = s.maxConcurrency ?? 1;
  return `for each ${shortExpr(s.items, 32) ?? '?'}, ${n > 1 ? `≤${n} at once` : 'one at a time'}`;
}

/** How long a delay waits: `waits 2d`, `waits until $input.shipAt`. */
export function delayNote(s: StepDetail): string {
  if (s.for !== null && s.for !== undefined) return `waits ${dslDuration(s.for)}`;
  const until = shortExpr(s.until, 32);
  return until === null ? 'waits' : `waits until ${until}`;
}

/** The name a step of a forEach group is known by in the graph: `group[].step`. */
export function stepKey(name: string, loop: string | null): string {
  return loop === null ? name : `${loop}[].${name}`;
}

const base = (key: string, s: StepDetail, loop: string | null) =>
  ({ id: `step:${key}`, label: s.name, step: key, pivot: s.pivot === true, when: shortExpr(s.when), child: null, loop });

/** Pure: the node of one step (a leaf of the sequence, a parallel branch or a forEach group). */
export function stepNode(s: StepDetail, loop: string | null = null): NodeSpec {
  const key = stepKey(s.name, loop);
  const pivot = s.pivot === true ? PIVOT_NOTE : null;
  switch (s.kind) {
    case 'command':
      return { ...base(key, s, loop), kind: 'step', note: pivot, title: `${s.name}: sends ${s.command?.type ?? 'a command'} and waits for its reply` };
    case 'wait':
      return { ...base(key, s, loop), kind: 'wait', note: pivot ?? WAIT_NOTE, title: `${s.name}: waits for ${s.type ?? 'an event'}` };
    case 'forEach': {
      const note = loopNote(s);
      const most = s.maxItems === undefined ? '' : ` (at most ${s.maxItems} elements)`;
      return { ...base(key, s, loop), kind: 'loop', note, title: `${s.name}: ${note}${most}, each element the step ${s.name}[i]` };
    }
    case 'delay': {
      const note = delayNote(s);
      return { ...base(key, s, loop), kind: 'delay', note, title: `${s.name}: ${note}, durably; nothing to undo` };
    }
    case 'saga': {
      const child = s.saga ?? '?';
      return { ...base(key, s, loop), kind: 'child', note: pivot ?? `child saga ${child}`, child, title: `${s.name}: starts the child saga ${child} and waits for its end` };
    }
    case 'parallel':
      // A parallel group is drawn as a fork and a join by graphOf, never as one node.
      return { ...base(key, s, loop), kind: 'step', note: null, title: s.name };
    default:
      return assertNever(s.kind);
  }
}

/**
 * Pure: the node of a step's compensation, or null when nothing undoes it: a `compensate`
 * block, or for a `saga` step before the pivot the child's own compensations.
 */
export function undoNode(s: StepDetail, loop: string | null = null): NodeSpec | null {
  const key = stepKey(s.name, loop);
  const common = { id: `undo:${key}`, kind: 'undo' as const, note: null, step: key, pivot: false, when: null, loop };
  if (s.kind === 'saga') {
    if (s.afterPivot === true || s.pivot === true) return null;
    const child = s.saga ?? '?';
    return { ...common, label: "undo: child's compensations", child, title: `compensation of ${s.name}: the child saga ${child} undoes its done steps, latest first` };
  }
  const c = s.compensation;
  if (c === null || c === undefined) return null;
  const each = s.kind === 'forEach' ? ' (each element that may have taken effect, latest first)' : '';
  return { ...common, label: `undo: ${c.command.type}`, child: null, title: `compensation of ${s.name}${each}: sends ${c.command.type}` };
}
