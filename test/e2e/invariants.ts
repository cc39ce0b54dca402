import type { HistoryEntry, InstanceDoc } from './api-client.js';
import { STEPS } from './harness.js';
import type { LedgerEntry } from './ledger.js';

const rank = (step: string): number => STEPS.indexOf(step as (typeof STEPS)[number]);

/**
 * The saga guarantee (DESIGN section 1) for one order-fulfillment instance, judged from
 * what the participant actually did (its ledger), the instance document and its journal.
 * Returns one sentence per violation; an empty list means the instance is sound.
 */
export function sagaViolations(
  doc: InstanceDoc, history: readonly HistoryEntry[], ledger: readonly LedgerEntry[],
  opts: { endStates?: readonly string[]; received?: ReadonlySet<string> } = {},
): string[] {
  const problems: string[] = [];
  const mine = ledger.filter((e) => e.sagaId === doc.id);
  const endStates = opts.endStates ?? ['completed', 'compensated'];
  if (!endStates.includes(doc.state)) problems.push(`ended ${doc.state}, expected ${endStates.join(' or ')}${doc.failure === undefined ? '' : ` (${doc.failure.step}: ${doc.failure.error})`}`);

  // The work of one key is done at most once.
  const doneCount = new Map<string, number>();
  for (const e of mine) if (e.effect === 'done') doneCount.set(e.key, (doneCount.get(e.key) ?? 0) + 1);
  for (const [key, n] of doneCount) if (n > 1) problems.push(`${key} took effect ${n} times`);

  // No `do` takes effect after its `undo` arrived.
  for (const d of mine.filter((e) => e.action === 'do' && e.effect === 'done')) {
    const undoFirst = mine.find((u) => u.action === 'undo' && u.step === d.step && u.seq < d.seq);
    if (undoFirst !== undefined) problems.push(`${d.key} took effect (ledger #${d.seq}) after its undo (ledger #${undoFirst.seq})`);
  }

  // Compensations run latest step first.
  const undoOrder: string[] = [];
  for (const e of mine) if (e.action === 'undo' && !undoOrder.includes(e.step)) undoOrder.push(e.step);
  for (let i = 1; i < undoOrder.length; i++) {
    if (rank(undoOrder[i] ?? '') > rank(undoOrder[i - 1] ?? '')) problems.push(`compensations out of order in the ledger: ${undoOrder.join(', ')}`);
  }

  const didDo = new Set(mine.filter((e) => e.action === 'do' && e.effect === 'done').map((e) => e.step));
  const undoneDone = new Set(mine.filter((e) => e.action === 'undo' && e.effect === 'done').map((e) => e.step));
  const undoSent = new Set(mine.filter((e) => e.action === 'undo').map((e) => e.step));
  const stepDoc = new Map(doc.steps.map((s) => [s.name, s]));
  if (doc.state === 'completed') {
    for (const step of STEPS) if (!didDo.has(step)) problems.push(`completed, but ${step} was never done`);
    if (undoSent.size > 0) problems.push(`completed, but compensations were sent: ${[...undoSent].join(', ')}`);
  }
  if (doc.state === 'compensated') {
    if (didDo.has('ship-order')) problems.push('compensated, but the pivot ship-order was done');
    for (const step of didDo) if (step !== 'ship-order' && !undoneDone.has(step)) problems.push(`compensated, but ${step} was done and never undone`);
    for (const step of undoSent) {
      if (stepDoc.get(step)?.compensation?.state !== 'compensated') problems.push(`${step} was undone, but the instance shows its compensation as ${stepDoc.get(step)?.compensation?.state ?? 'none'}`);
    }
  }
  // A step the participant refused (its failure reply counted) has nothing to compensate.
  for (const s of doc.steps) {
    if (s.state === 'failed' && undoSent.has(s.name)) problems.push(`${s.name} failed with a business failure, yet a compensation was sent`);
  }

  // The journal: each step succeeds and is compensated at most once, latest first; one end event.
  const count = (type: string, step?: string) => history.filter((h) => h.type === type && (step === undefined || h.data.step === step)).length;
  for (const step of STEPS) {
    if (count('StepSucceeded', step) > 1) problems.push(`journal: ${step} succeeded ${count('StepSucceeded', step)} times`);
    if (count('StepCompensated', step) > 1) problems.push(`journal: ${step} compensated ${count('StepCompensated', step)} times`);
  }
  for (const end of ['SagaCompleted', 'SagaCompensated']) if (count(end) > 1) problems.push(`journal: ${end} ${count(end)} times`);
  const finishedOrder: string[] = [];
  for (const h of history) {
    const step = h.data.step;
    if (typeof step === 'string' && ['StepSucceeded', 'StepFailed', 'StepGivenUp'].includes(h.type) && !finishedOrder.includes(step)) finishedOrder.push(step);
  }
  const compensatedOrder = history.filter((h) => h.type === 'StepCompensated').map((h) => String(h.data.step));
  for (let i = 1; i < compensatedOrder.length; i++) {
    if (finishedOrder.indexOf(compensatedOrder[i] ?? '') > finishedOrder.indexOf(compensatedOrder[i - 1] ?? '')) {
      problems.push(`journal: compensated ${compensatedOrder.join(', ')}, but the steps finished in the order ${finishedOrder.join(', ')}`);
    }
  }
  // Every command the journal dispatched was published (once the outbox drained), under the id
  // the journal knows: a re-send after a crash keeps its id, so no other id reaches the participant.
  const dispatched = new Map(history.filter((h) => h.type === 'StepDispatched' || h.type === 'CompensationDispatched')
    .map((h) => [String(h.data.commandId), `${h.type === 'StepDispatched' ? 'do' : 'undo'} ${String(h.data.step)} attempt ${String(h.data.attempt)}`]));
  if (opts.received !== undefined) {
    for (const [id, what] of dispatched) if (!opts.received.has(id)) problems.push(`${what} (command ${id}) never reached the participant`);
  }
  for (const e of mine) if (!dispatched.has(e.commandId)) problems.push(`the participant got command ${e.commandId} (${e.key}), which the journal does not know`);
  return problems;
}

/** The ledger lines of one saga as compact tuples `[step, action, effect]`, for readable assertions. */
export function effectsOf(ledger: readonly LedgerEntry[], sagaId: string): [string, string, string][] {
  return ledger.filter((e) => e.sagaId === sagaId).map((e) => [e.step, e.action, e.effect]);
}

/** The ledger lines of one saga without duplicates: what actually happened, in order. */
export function realEffects(ledger: readonly LedgerEntry[], sagaId: string): [string, string, string][] {
  return effectsOf(ledger, sagaId).filter(([, , effect]) => effect !== 'duplicate');
}
