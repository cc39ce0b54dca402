/**
 * The saga guarantee (DESIGN section 1, points 1 to 3), checked on a trace: every step that
 * may have taken effect is compensated, once, in reverse order of completion; nothing at or
 * after the pivot is compensated; nothing that never started is compensated. The checker
 * models the participants from the trace (what was sent, what they answered) rather than
 * trusting the core's own bookkeeping, so it can catch the core getting it wrong.
 */
import type { CompiledSaga, LeafStep } from '../core/index.js';
import { forEachStage } from '../core/index.js';
import { concreteLeaves, leafOf } from './leaves.js';
import type { TraceEntry } from './trace.js';

/** The rule a violation breaks, stable for machines. */
export const Rule = {
  neverStarted: 'never-started',
  afterPivot: 'after-pivot',
  doAfterCompensation: 'do-after-compensation',
  twice: 'compensated-twice',
  order: 'reverse-order',
  notCompensated: 'not-compensated',
  refused: 'refused-yet-compensated',
  completed: 'completed-inconsistent',
} as const;
export type Rule = (typeof Rule)[keyof typeof Rule];

/** One broken rule, with the trace entry (index) where it was seen. */
export interface Violation {
  readonly rule: Rule;
  readonly message: string;
  /** Index into the trace, or null when found at the end. */
  readonly at: number | null;
}

/** What the check found: violations break the guarantee, warnings are hazards the design allows. */
export interface GuaranteeReport {
  readonly violations: readonly Violation[];
  readonly warnings: readonly string[];
}

type Status = 'running' | 'compensating' | 'completed' | 'compensated' | 'failed';

class Checker {
  readonly violations: Violation[] = [];
  readonly warnings: string[] = [];
  private status: Status = 'running';
  private readonly sentDo = new Set<string>();
  private readonly lastDo = new Map<string, string>();
  private readonly happened = new Set<string>();
  private readonly refused = new Set<string>();
  private readonly finished = new Set<string>();
  private readonly completion: string[] = [];
  private readonly eventTaken = new Set<string>();
  private readonly skipped = new Set<string>();
  /** Delay steps that started: they succeed without a participant. */
  private readonly delays = new Set<string>();
  private readonly undone = new Set<string>();
  private readonly undoSent = new Set<string>();
  private pivotDone = false;
  /** Element counts of the forEach stages that started: each element is a step of its own. */
  private readonly elements = new Map<string, number>();
  /** Null until compensation begins: the order owed, how many of it have begun, and the one in flight. */
  private plan: { expected: string[]; k: number; inFlight: string | null } | null = null;
  private i = 0;

  constructor(private readonly saga: CompiledSaga) {}

  private leaf(step: string): LeafStep | undefined {
    return leafOf(this.saga, step);
  }

  private violate(rule: Rule, message: string, at: number | null = this.i): void {
    this.violations.push({ rule, message, at });
  }

  private compensable(step: string): boolean {
    // A forEach stage sends nothing itself; its elements are the steps that take effect.
    if (forEachStage(this.saga, step) !== undefined) return false;
    const l = this.leaf(step);
    // A child saga is undone by its own compensations: a `saga` step before the pivot always is.
    return l !== undefined && (l.compensate !== null || l.kind === 'saga') && !l.afterPivot;
  }

  /** Whether the step's work may have happened, as far as its participant has told. */
  private mayHaveHappened(step: string): boolean {
    const l = this.leaf(step);
    if (l?.kind === 'wait') return this.eventTaken.has(step);
    return this.sentDo.has(step) && (this.happened.has(step) || !this.refused.has(step));
  }

  entry(e: TraceEntry, i: number): void {
    this.i = i;
    switch (e.kind) {
      case 'send': return e.undo ? this.onUndoSent(e.step) : this.onDoSent(e.step, e.commandId);
      case 'reply': return this.onReply(e);
      case 'event': if (e.taken) this.eventTaken.add(e.step); return;
      case 'journal': return this.onJournal(e.event);
      case 'timer':
      case 'cancel':
        return;
    }
  }

  private onDoSent(step: string, commandId: string): void {
    if (this.plan !== null) this.violate(Rule.doAfterCompensation, `${step} was sent after compensation began`);
    this.sentDo.add(step);
    this.lastDo.set(step, commandId);
  }

  private onUndoSent(step: string): void {
    const l = this.leaf(step);
    if (l?.afterPivot === true) this.violate(Rule.afterPivot, `${step} is ${l.kind === 'command' && l.pivot ? 'the pivot' : 'after the pivot'}, yet its compensation was sent`);
    if (!this.mayHaveHappened(step) && !this.sentDo.has(step)) this.violate(Rule.neverStarted, `the compensation of ${step} was sent, but ${step} never started`);
    else if (!this.mayHaveHappened(step)) this.violate(Rule.refused, `the compensation of ${step} was sent, but its participant refused ${step} and never did it`);
    if (this.undone.has(step)) this.violate(Rule.twice, `the compensation of ${step} was sent again after it had succeeded`);
    const p = this.plan;
    if (p === null) {
      this.violate(Rule.order, `the compensation of ${step} was sent before compensation began`);
      return;
    }
    if (this.undoSent.has(step)) {
      if (p.inFlight !== step) this.violate(Rule.order, `the compensation of ${step} was sent again while ${p.inFlight ?? 'nothing'} was being compensated`);
      return;
    }
    this.undoSent.add(step);
    if (p.inFlight !== null) this.violate(Rule.order, `the compensation of ${step} was sent while the compensation of ${p.inFlight} had not succeeded`);
    const want = p.expected[p.k];
    if (want !== step) {
      this.violate(Rule.order, `compensation #${p.k + 1} is ${step}, but the steps that may have taken effect, latest completion first, are ${p.expected.join(', ') || 'none'}`);
      const at = p.expected.indexOf(step);
      if (at > p.k) p.expected.splice(at, 1);
      if (at !== p.k) p.expected.splice(p.k, 0, step);
    }
    p.k++;
    p.inFlight = step;
  }

  private onReply(e: Extract<TraceEntry, { kind: 'reply' }>): void {
    if (e.undo) {
      if (e.reply !== 'success' || !e.taken) return;
      if (this.undone.has(e.step)) this.violate(Rule.twice, `${e.step} was compensated twice`);
      this.undone.add(e.step);
      if (this.plan?.inFlight === e.step) this.plan.inFlight = null;
      return;
    }
    const active = !this.finished.has(e.step) && this.plan === null;
    if (e.reply === 'failure' && active && this.lastDo.get(e.step) === e.commandId) this.refused.add(e.step);
    if (e.reply !== 'success') return;
    const first = !this.happened.has(e.step);
    this.happened.add(e.step);
    if (!first || this.plan === null) return;
    const l = this.leaf(e.step);
    if (l !== undefined && l.afterPivot) {
      this.warnings.push(`${e.step} answered success after it was given up, and the saga compensates; ${e.step} ${l.kind === 'command' && l.pivot ? 'is the pivot' : 'is after the pivot'}, so nothing undoes it`);
      return;
    }
    // A late success is owed a compensation right after the one in flight (guarantee point 3).
    const p = this.plan;
    if (this.compensable(e.step) && !this.undoSent.has(e.step) && !p.expected.slice(p.k).includes(e.step)) p.expected.splice(p.k, 0, e.step);
  }

  private onJournal(ev: Extract<TraceEntry, { kind: 'journal' }>['event']): void {
    switch (ev.type) {
      case 'StepSucceeded':
      case 'StepFailed':
      case 'StepGivenUp':
        if (!this.finished.has(ev.step)) this.completion.push(ev.step);
        this.finished.add(ev.step);
        if (ev.type === 'StepSucceeded' && ev.pivot) this.pivotDone = true;
        return;
      case 'StepSkipped':
        this.skipped.add(ev.step);
        if (ev.pivot === true) this.pivotDone = true;
        return;
      case 'ForEachStarted': this.elements.set(ev.step, ev.items.length); return;
      case 'DelayStarted': this.delays.add(ev.step); return;
      case 'CompensationStarted': {
        if (this.pivotDone) this.violate(Rule.afterPivot, 'compensation began after the pivot had succeeded');
        // However the pivot ended (a skipped one included), a step past it that was sent cannot be undone.
        for (const step of this.sentDo) {
          const l = this.leaf(step);
          if (l?.afterPivot === true && !(l.kind === 'command' && l.pivot) && this.mayHaveHappened(step)) {
            this.violate(Rule.afterPivot, `compensation began after ${step}, which comes after the pivot and has no compensation, was sent`);
          }
        }
        this.status = 'compensating';
        const expected = this.completion.filter((s) => this.compensable(s) && this.mayHaveHappened(s)).reverse();
        this.plan = { expected, k: 0, inFlight: null };
        return;
      }
      case 'LateSuccessRecorded':
      case 'CompensationResumed':
        if (this.status === 'compensated' || this.status === 'failed') this.status = 'compensating';
        return;
      case 'ForwardResumed': this.status = 'running'; return;
      case 'SagaCompleted': this.status = 'completed'; return;
      case 'SagaCompensated': this.status = 'compensated'; return;
      case 'SagaFailed': this.status = 'failed'; return;
      default: return;
    }
  }

  end(): void {
    // A forEach stage that started stands for its elements; one that never did, for itself.
    const leaves = concreteLeaves(this.saga, this.elements);
    if (this.status === 'completed') {
      if (this.plan !== null || this.undoSent.size > 0) this.violate(Rule.completed, 'the saga completed, yet it compensated', null);
      // A delay has no participant to answer it: it happened once its time came (the journal says so).
      const open = leaves.filter((l) => !this.skipped.has(l.name) && !this.happened.has(l.name) && !this.eventTaken.has(l.name) && !(this.delays.has(l.name) && this.finished.has(l.name)));
      if (open.length > 0) this.violate(Rule.completed, `the saga completed, but ${open.map((l) => l.name).join(', ')} never succeeded`, null);
    }
    if (this.status === 'compensated') {
      for (const l of leaves) {
        if (this.compensable(l.name) && this.mayHaveHappened(l.name) && !this.undone.has(l.name)) {
          this.violate(Rule.notCompensated, `the saga ended compensated, but ${l.name} may have taken effect and was not compensated`, null);
        }
      }
    }
  }
}

/** Pure: checks a run's trace against the saga guarantee; an empty `violations` means it held. */
export function checkGuarantee(saga: CompiledSaga, trace: readonly TraceEntry[]): GuaranteeReport {
  const c = new Checker(saga);
  trace.forEach((e, i) => c.entry(e, i));
  c.end();
  return { violations: c.violations, warnings: c.warnings };
}
