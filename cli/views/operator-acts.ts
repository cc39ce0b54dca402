/**
 * Who acted on an instance: the operator actions in its journal (a cancel, a retry that resumed
 * a step or a compensation) with the name of the token that asked and the reason given. Pure:
 * read from the API's history documents; shared by sagactl and the web console.
 */
import type { HistoryEntryDocument } from '../../engine/api/documents.js';
import { assertNever } from '../../engine/core/assert-never.js';

/** One operator action as the journal recorded it; `by` is null for journals from before names were kept. */
export interface OperatorActView {
  readonly seq: number;
  readonly at: string;
  readonly action: 'cancel' | 'retry';
  /** The step a retry resumed; null for a cancel and for a resumed compensation. */
  readonly step: string | null;
  readonly by: string | null;
  readonly reason: string | null;
}

type Data = Record<string, unknown>;
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The reason typed at a cancel: the core journals it as `cancelled: REASON` (or `cancelled by an operator` without one). */
function cancelReason(message: string | null): string | null {
  if (message === null) return null;
  return message.startsWith('cancelled: ') ? text(message.slice('cancelled: '.length)) : null;
}

/** Pure: the operator action a journal entry records, or null when it records none (seq 0 and at '' when not given). */
export function operatorActOf(entry: Pick<HistoryEntryDocument, 'type' | 'data'> & Partial<Pick<HistoryEntryDocument, 'seq' | 'at'>>): OperatorActView | null {
  const e = { seq: entry.seq ?? 0, at: entry.at ?? '', type: entry.type };
  const d = typeof entry.data === 'object' && entry.data !== null ? entry.data as Data : {};
  switch (e.type) {
    case 'CompensationStarted': {
      const reason = (typeof d.reason === 'object' && d.reason !== null ? d.reason : {}) as Data;
      if (reason.kind !== 'cancelled') return null;
      return { seq: e.seq, at: e.at, action: 'cancel', step: null, by: text(reason.by), reason: cancelReason(text(reason.message)) };
    }
    case 'CompensationResumed': return { seq: e.seq, at: e.at, action: 'retry', step: null, by: text(d.by), reason: text(d.reason) };
    case 'ForwardResumed': return { seq: e.seq, at: e.at, action: 'retry', step: text(d.step), by: text(d.by), reason: text(d.reason) };
    default: return null;
  }
}

/** Pure: every operator action of a journal, oldest first. */
export function operatorActs(history: readonly HistoryEntryDocument[]): OperatorActView[] {
  return history.map(operatorActOf).filter((a): a is OperatorActView => a !== null);
}

/** Pure: who did it, for a sentence: the token's name, or "an operator" when the journal has none. */
export function actor(a: OperatorActView): string {
  return a.by ?? 'an operator';
}

/** Pure: what was done, without who or why: `cancelled it`, `resumed step charge`, `resumed the compensation`. */
export function actDone(a: OperatorActView): string {
  switch (a.action) {
    case 'cancel': return 'cancelled it';
    case 'retry': return a.step === null ? 'resumed the compensation' : `resumed step ${a.step}`;
    default: return assertNever(a.action);
  }
}

/** Pure: the reason as a quoted clause (`, saying “...”`), or nothing when none was given. */
export function actReason(a: OperatorActView): string {
  return a.reason === null ? '' : `, saying “${a.reason}”`;
}
