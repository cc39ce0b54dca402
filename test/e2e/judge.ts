import type { HistoryEntry } from './api-client.js';
import type { LedgerEntry } from './ledger.js';

/**
 * The judge of the end-to-end tests: reads the participant's ledger (facts about every
 * command it received) and the instance's journal, and names what sagad did wrong. It never
 * trusts the participant's own protection: a participant that refuses a late `do`, or
 * answers a repeated key from its memory, hides a fault from the world but not from here.
 * Pure: every function returns one sentence per violation; an empty list means sound.
 */

const where = (e: LedgerEntry) => `${e.sagaId}/${e.step}/${e.action}`;
const cmd = (e: LedgerEntry) => `${e.action} ${e.step} (command ${e.commandId}, attempt ${e.attempt}, ledger #${e.seq})`;

/**
 * What the ledger alone shows to be wrong, over all its instances (or the one of `sagaId`):
 * a command the participant refused; a command whose Idempotency-Key is not
 * `<sagaId>/<step>/<do|undo>`; a `do` received after the `undo` of its step (whatever it was
 * answered); and work applied twice for one step, i.e. two different commands (not two
 * deliveries of one command id) that both took effect. A command id the participant had
 * received before is a redelivery by JetStream (its ack was lost, e.g. in a NATS outage),
 * not something sagad sent again: refusing it is the participant's right, and it is not
 * held against sagad.
 */
export function ledgerViolations(ledger: readonly LedgerEntry[], sagaId?: string): string[] {
  const problems: string[] = [];
  const mine = sagaId === undefined ? ledger : ledger.filter((e) => e.sagaId === sagaId);
  const firstUndo = new Map<string, LedgerEntry>();
  const applied = new Map<string, Set<string>>();
  const received = new Set<string>();
  for (const e of mine) {
    const redelivered = received.has(e.commandId);
    received.add(e.commandId);
    if (e.effect === 'refused' && !redelivered) problems.push(`${e.sagaId}: the participant refused ${cmd(e)}: ${e.reason ?? 'no reason given'}`);
    if (e.key !== where(e)) problems.push(`${e.sagaId}: ${cmd(e)} carried the Idempotency-Key ${JSON.stringify(e.key)}, not ${JSON.stringify(where(e))}`);
    const stepOf = `${e.sagaId}/${e.step}`;
    if (e.action === 'undo' && !firstUndo.has(stepOf)) firstUndo.set(stepOf, e);
    const undo = firstUndo.get(stepOf);
    if (e.action === 'do' && undo !== undefined && !redelivered) problems.push(`${e.sagaId}: ${cmd(e)} was received after its undo (ledger #${undo.seq})`);
    if (e.effect === 'done') {
      const ids = applied.get(where(e)) ?? new Set<string>();
      ids.add(e.commandId);
      applied.set(where(e), ids);
    }
  }
  for (const [w, ids] of applied) if (ids.size > 1) problems.push(`${w} took effect ${ids.size} times, from commands ${[...ids].join(', ')}`);
  return problems;
}

/**
 * What the journal shows sagad sending against its own knowledge: a `do` dispatched for a
 * step after that step succeeded, or after compensation began, or a retry (attempt n > 1)
 * that no failure of attempt n - 1 asked for.
 */
export function journalViolations(history: readonly HistoryEntry[]): string[] {
  const problems: string[] = [];
  const succeeded = new Set<string>();
  const failedAttempt = new Map<string, number>();
  let compensating = false;
  for (const h of history) {
    const step = String(h.data.step);
    switch (h.type) {
      case 'StepDispatched': {
        const attempt = Number(h.data.attempt);
        if (succeeded.has(step)) problems.push(`journal #${h.seq}: ${step} attempt ${attempt} dispatched after the step succeeded`);
        if (compensating) problems.push(`journal #${h.seq}: ${step} attempt ${attempt} dispatched after compensation began`);
        if (attempt > 1 && failedAttempt.get(step) !== attempt - 1) problems.push(`journal #${h.seq}: ${step} attempt ${attempt} dispatched, but attempt ${attempt - 1} had not failed`);
        failedAttempt.delete(step);
        break;
      }
      case 'StepAttemptFailed':
        failedAttempt.set(step, Number(h.data.attempt));
        break;
      case 'StepSucceeded':
        succeeded.add(step);
        break;
      case 'CompensationStarted':
        compensating = true;
        break;
      case 'ForwardResumed':
        compensating = false;
        succeeded.delete(step);
        break;
      default:
        break;
    }
  }
  return problems;
}

/**
 * Compensation order (DESIGN section 1, point 1, and the parallel form of section 2): when
 * the compensation of a step is first dispatched, every compensable step that finished
 * later (succeeded, gave up with an unknown outcome, or turned out done by a late success)
 * must already be compensated. Also: each step succeeds and is compensated at most once.
 */
export function compensationOrderViolations(history: readonly HistoryEntry[], compensable: readonly string[]): string[] {
  const problems: string[] = [];
  const finishedAt = new Map<string, number>();
  const compensated = new Set<string>();
  const dispatched = new Set<string>();
  const count = new Map<string, number>();
  for (const h of history) {
    const step = String(h.data.step);
    if (h.type === 'StepSucceeded' || h.type === 'StepCompensated') {
      const k = `${h.type} ${step}`;
      count.set(k, (count.get(k) ?? 0) + 1);
    }
    if (!compensable.includes(step)) continue;
    const unknownEnd = (h.type === 'StepFailed' || h.type === 'StepGivenUp') && h.data.outcome !== 'not_done';
    const reopened = h.type === 'LateSuccessRecorded' && h.data.queue !== null;
    if (h.type === 'StepSucceeded' || unknownEnd || reopened) finishedAt.set(step, h.seq);
    if (h.type === 'StepCompensated') compensated.add(step);
    if (h.type === 'CompensationDispatched' && !dispatched.has(step)) {
      dispatched.add(step);
      const mine = finishedAt.get(step);
      if (mine === undefined) problems.push(`journal #${h.seq}: ${step} compensated, but it never finished`);
      const later = [...finishedAt].filter(([other, at]) => other !== step && mine !== undefined && at > mine && !compensated.has(other)).map(([other]) => other);
      if (later.length > 0) problems.push(`journal #${h.seq}: ${step} compensated before ${later.join(', ')}, which finished later`);
    }
  }
  for (const [k, n] of count) if (n > 1) problems.push(`journal: ${k} ${n} times`);
  return problems;
}

/**
 * The ledger and the journal agree: every command the participant received was dispatched
 * in the journal (a re-send keeps its id), and, when `received` is given, every command the
 * journal dispatched reached the participant; the undos arrived in the journal's order.
 */
export function agreementViolations(history: readonly HistoryEntry[], ledger: readonly LedgerEntry[], sagaId: string, received?: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const mine = ledger.filter((e) => e.sagaId === sagaId);
  const dispatched = new Map(history.filter((h) => h.type === 'StepDispatched' || h.type === 'CompensationDispatched')
    .map((h) => [String(h.data.commandId), `${h.type === 'StepDispatched' ? 'do' : 'undo'} ${String(h.data.step)} attempt ${String(h.data.attempt)}`]));
  if (received !== undefined) {
    for (const [id, what] of dispatched) if (!received.has(id)) problems.push(`${what} (command ${id}) never reached the participant`);
  }
  for (const e of mine) if (!dispatched.has(e.commandId)) problems.push(`the participant got ${cmd(e)}, which the journal does not know`);
  const firstOf = (steps: string[]) => steps.filter((s, i) => steps.indexOf(s) === i);
  const journalUndos = firstOf(history.filter((h) => h.type === 'CompensationDispatched').map((h) => String(h.data.step)));
  const ledgerUndos = firstOf(mine.filter((e) => e.action === 'undo').map((e) => e.step));
  if (ledgerUndos.some((s, i) => s !== journalUndos.filter((j) => ledgerUndos.includes(j))[i])) {
    problems.push(`undos reached the participant in the order ${ledgerUndos.join(', ')}, but the journal dispatched them as ${journalUndos.join(', ')}`);
  }
  return problems;
}

/** The steps (by name) the participant did (`done`), and those it undid, for one instance. */
export function workOf(ledger: readonly LedgerEntry[], sagaId: string): { done: Set<string>; undone: Set<string>; undoSent: Set<string> } {
  const mine = ledger.filter((e) => e.sagaId === sagaId);
  return {
    done: new Set(mine.filter((e) => e.action === 'do' && e.effect === 'done').map((e) => e.step)),
    undone: new Set(mine.filter((e) => e.action === 'undo' && e.effect === 'done').map((e) => e.step)),
    undoSent: new Set(mine.filter((e) => e.action === 'undo').map((e) => e.step)),
  };
}
