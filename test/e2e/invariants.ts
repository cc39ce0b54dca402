import type { HistoryEntry, InstanceDoc } from './api-client.js';
import { STEPS } from './harness.js';
import { agreementViolations, compensationOrderViolations, journalViolations, ledgerViolations, workOf } from './judge.js';
import { DECIDING } from './ledger.js';
import type { LedgerEntry } from './ledger.js';

/** What `sagaViolations` must know of a saga besides order-fulfillment's defaults. */
export interface SagaShape {
  /** Steps with a compensation, before the pivot (default: reserve-inventory, charge-payment). */
  compensable?: readonly string[];
  /** Command steps a completed instance must have had done by the participant (default: STEPS). */
  commandSteps?: readonly string[];
}

/**
 * The saga guarantee (DESIGN section 1) for one instance, judged from what the participant
 * received and did (its ledger, see `judge.ts`), the instance document and its journal.
 * Returns one sentence per violation; an empty list means the instance is sound.
 */
export function sagaViolations(
  doc: InstanceDoc, history: readonly HistoryEntry[], ledger: readonly LedgerEntry[],
  opts: SagaShape & { endStates?: readonly string[]; received?: ReadonlySet<string> } = {},
): string[] {
  const compensable = opts.compensable ?? ['reserve-inventory', 'charge-payment'];
  const commandSteps = opts.commandSteps ?? STEPS;
  const problems: string[] = [];
  const endStates = opts.endStates ?? ['completed', 'compensated'];
  if (!endStates.includes(doc.state)) problems.push(`ended ${doc.state}, expected ${endStates.join(' or ')}${doc.failure === undefined ? '' : ` (${doc.failure.step}: ${doc.failure.error})`}`);

  problems.push(...ledgerViolations(ledger, doc.id));
  problems.push(...journalViolations(history));
  problems.push(...compensationOrderViolations(history, compensable));
  problems.push(...agreementViolations(history, ledger, doc.id, opts.received));

  const { done, undone, undoSent } = workOf(ledger, doc.id);
  const stepDoc = new Map(doc.steps.map((s) => [s.name, s]));
  if (doc.state === 'completed') {
    for (const step of commandSteps) if (!done.has(step)) problems.push(`completed, but ${step} was never done`);
    if (undoSent.size > 0) problems.push(`completed, but compensations were sent: ${[...undoSent].join(', ')}`);
  }
  if (doc.state === 'compensated') {
    for (const step of done) {
      if (!compensable.includes(step)) problems.push(`compensated, but ${step}, which has no compensation, was done`);
      else if (!undone.has(step)) problems.push(`compensated, but ${step} was done and never undone`);
    }
    for (const step of undoSent) {
      if (stepDoc.get(step)?.compensation?.state !== 'compensated') problems.push(`${step} was undone, but the instance shows its compensation as ${stepDoc.get(step)?.compensation?.state ?? 'none'}`);
    }
  }
  // A step the participant declined (its failure reply counted) has nothing to compensate.
  for (const s of doc.steps) {
    if (s.state === 'failed' && undoSent.has(s.name)) problems.push(`${s.name} failed with a business failure, yet a compensation was sent`);
  }
  for (const end of ['SagaCompleted', 'SagaCompensated']) {
    const n = history.filter((h) => h.type === end).length;
    const reopened = history.filter((h) => h.type === 'LateSuccessRecorded' && h.data.queue !== null).length;
    if (n > 1 + (end === 'SagaCompensated' ? reopened : 0)) problems.push(`journal: ${end} ${n} times`);
  }
  return problems;
}

/** The ledger lines of one saga as compact tuples `[step, action, effect]`, for readable assertions. */
export function effectsOf(ledger: readonly LedgerEntry[], sagaId: string): [string, string, string][] {
  return ledger.filter((e) => e.sagaId === sagaId).map((e) => [e.step, e.action, e.effect]);
}

/** The ledger lines of one saga that decided something (no repeats, no busy or held answers): what actually happened, in order. */
export function realEffects(ledger: readonly LedgerEntry[], sagaId: string): [string, string, string][] {
  return effectsOf(ledger, sagaId).filter(([, , effect]) => DECIDING.includes(effect as LedgerEntry['effect']));
}
