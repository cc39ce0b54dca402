import t from 'tap';
import type { Test } from 'tap';
import type { HistoryEntry, InstanceDoc } from './api-client.js';
import { sagaViolations } from './invariants.js';
import { agreementViolations, compensationOrderViolations, journalViolations, ledgerViolations } from './judge.js';
import type { Effect, LedgerEntry } from './ledger.js';

/**
 * The judge can fail: hand-written ledgers and journals, each with one thing sagad could do
 * wrong, are reported; the clean ones are not. No process runs here.
 */

const SAGA = 'i1';
let seq = 0;
/** A ledger line: `do reserve-inventory #1 done` reads as action, step, attempt and effect. */
function fact(action: 'do' | 'undo', step: string, attempt: number, effect: Effect, over: Partial<LedgerEntry> = {}): LedgerEntry {
  seq++;
  return {
    seq, at: new Date(1_700_000_000_000 + seq * 10).toISOString(), key: `${SAGA}/${step}/${action}`, step, action, effect, sagaId: SAGA,
    attempt, orderId: 'o-1', command: `${action}-${step}`, commandId: `c-${action}-${step}-${attempt}`, reply: effect === 'held' ? null : 'Reply',
    replyId: `r-${seq}`, published: 'now', payload: {}, ...over,
  };
}
/** Every problem matches its pattern, in order, and there is no other (tap's match allows extra items). */
function exactly(t: Test, got: string[], patterns: RegExp[], msg?: string): void {
  t.equal(got.length, patterns.length, `${msg ?? 'problems'}: ${patterns.length} reported`, { got });
  t.match(got, patterns, msg ?? 'each as expected');
}
let hseq = 0;
const ev = (type: string, data: Record<string, unknown> = {}): HistoryEntry => ({ seq: ++hseq, type, data });
const dispatched = (step: string, attempt: number) => ev('StepDispatched', { step, attempt, commandId: `c-do-${step}-${attempt}` });
const undoSent = (step: string, attempt: number) => ev('CompensationDispatched', { step, attempt, commandId: `c-undo-${step}-${attempt}` });

t.test('a clean ledger: retries answered from the key, a redelivery, an undo of an unknown outcome', async (t) => {
  seq = 0;
  const ledger = [
    fact('do', 'reserve-inventory', 1, 'done', { published: 'never' }),
    fact('do', 'reserve-inventory', 2, 'duplicate'),
    fact('do', 'reserve-inventory', 2, 'duplicate'), // the same command id delivered twice
    fact('do', 'charge-payment', 1, 'busy'),
    fact('do', 'charge-payment', 2, 'held'),
    fact('undo', 'charge-payment', 1, 'nothing-to-undo'),
    fact('undo', 'reserve-inventory', 1, 'done'),
  ];
  t.same(ledgerViolations(ledger), []);
  t.same(ledgerViolations(ledger, SAGA), []);
});

t.test('each violation in the ledger is reported', async (t) => {
  seq = 0;
  const lateDo = [fact('do', 'charge-payment', 1, 'held'), fact('undo', 'charge-payment', 1, 'nothing-to-undo'), fact('do', 'charge-payment', 2, 'done')];
  exactly(t, ledgerViolations(lateDo), [/do charge-payment \(command c-do-charge-payment-2, attempt 2, ledger #3\) was received after its undo \(ledger #2\)/],
    'a do received after its undo, even when the participant did it');
  seq = 0;
  const refusedLate = [fact('undo', 'charge-payment', 1, 'nothing-to-undo'), fact('do', 'charge-payment', 1, 'refused', { reason: 'undo came first' })];
  t.same(ledgerViolations(refusedLate).length, 2, 'a do the participant refused after its undo: refused, and late');
  exactly(t, ledgerViolations(refusedLate), [/refused do charge-payment .*: undo came first/, /received after its undo/]);
  seq = 0;
  // A redelivery by JetStream of a do the participant already had (its ack lost in a NATS outage) is not sagad sending it again.
  const redeliveredLate = [
    fact('do', 'charge-payment', 1, 'held'), fact('undo', 'charge-payment', 1, 'nothing-to-undo'),
    fact('do', 'charge-payment', 1, 'refused', { reason: 'undo came first' }),
  ];
  t.same(ledgerViolations(redeliveredLate), [], 'a command id received before its undo, delivered again after it, is no violation');

  seq = 0;
  const twice = [fact('do', 'charge-payment', 1, 'done'), fact('do', 'charge-payment', 2, 'done', { key: `${SAGA}/charge-payment/do/2` })];
  exactly(t, ledgerViolations(twice), [/Idempotency-Key "i1\/charge-payment\/do\/2", not "i1\/charge-payment\/do"/, /i1\/charge-payment\/do took effect 2 times/],
    'a retry under another key is applied a second time');
  seq = 0;
  const twiceUndone = [fact('do', 'reserve-inventory', 1, 'done'), fact('undo', 'reserve-inventory', 1, 'done'), fact('undo', 'reserve-inventory', 2, 'done')];
  exactly(t, ledgerViolations(twiceUndone), [/reserve-inventory\/undo took effect 2 times/], 'an undo applied twice');
  seq = 0;
  const redelivered = [fact('do', 'charge-payment', 1, 'done'), fact('do', 'charge-payment', 1, 'done')];
  t.same(ledgerViolations(redelivered), [], 'one command id delivered twice is a redelivery, not a second application');

  seq = 0;
  const noKey = [fact('do', 'ship-order', 1, 'refused', { key: '', reason: 'no Idempotency-Key', reply: null })];
  t.equal(ledgerViolations(noKey).length, 2, 'a command without a key: refused, and the key is wrong');
  seq = 0;
  t.same(ledgerViolations([fact('do', 'x', 1, 'refused', { sagaId: 'other', key: 'other/x/do' })], SAGA), [], 'another instance is not judged with this one');
});

t.test('the journal: a do sent after success, after compensation began, or a retry nobody asked for', async (t) => {
  hseq = 0;
  const clean = [
    ev('SagaStarted'), dispatched('a', 1), ev('StepAttemptFailed', { step: 'a', attempt: 1 }), dispatched('a', 2),
    ev('StepSucceeded', { step: 'a' }), dispatched('b', 1), ev('StepGivenUp', { step: 'b', outcome: 'unknown' }),
    ev('CompensationStarted', { queue: ['b', 'a'] }), undoSent('b', 1), ev('StepCompensated', { step: 'b' }), undoSent('a', 1), ev('StepCompensated', { step: 'a' }),
  ];
  t.same(journalViolations(clean), []);
  hseq = 0;
  exactly(t, journalViolations([dispatched('a', 1), ev('StepSucceeded', { step: 'a' }), dispatched('a', 2)]), [/a attempt 2 dispatched after the step succeeded/, /attempt 1 had not failed/]);
  hseq = 0;
  exactly(t, journalViolations([dispatched('a', 1), ev('CompensationStarted'), dispatched('b', 1)]), [/b attempt 1 dispatched after compensation began/]);
  hseq = 0;
  exactly(t, journalViolations([dispatched('a', 1), dispatched('a', 2)]), [/a attempt 2 dispatched, but attempt 1 had not failed/]);
  hseq = 0;
  t.same(journalViolations([dispatched('a', 1), ev('StepFailed', { step: 'a' }), ev('SagaFailed'), ev('ForwardResumed', { step: 'a' }), dispatched('a', 1)]), [],
    'an operator retry of a failed forward step starts its attempts again');
});

t.test('compensation order: latest first, a late success counting as the latest', async (t) => {
  hseq = 0;
  const parallel = [
    dispatched('a', 1), dispatched('b', 1), dispatched('c', 1), ev('StepSucceeded', { step: 'b' }), ev('StepSucceeded', { step: 'a' }),
    ev('StepFailed', { step: 'c', outcome: 'not_done' }), ev('CompensationStarted'), undoSent('a', 1), ev('StepCompensated', { step: 'a' }),
    undoSent('b', 1), ev('StepCompensated', { step: 'b' }),
  ];
  t.same(compensationOrderViolations(parallel, ['a', 'b', 'c']), [], 'a finished last, so it is undone first');
  hseq = 0;
  const wrong = [
    dispatched('a', 1), dispatched('b', 1), ev('StepSucceeded', { step: 'b' }), ev('StepSucceeded', { step: 'a' }), ev('CompensationStarted'),
    undoSent('b', 1), ev('StepCompensated', { step: 'b' }), undoSent('a', 1), ev('StepCompensated', { step: 'a' }),
  ];
  exactly(t, compensationOrderViolations(wrong, ['a', 'b']), [/b compensated before a, which finished later/]);
  hseq = 0;
  const reopened = [
    dispatched('a', 1), ev('StepSucceeded', { step: 'a' }), dispatched('b', 1), ev('StepFailed', { step: 'b', outcome: 'not_done' }),
    ev('CompensationStarted'), undoSent('a', 1), ev('StepCompensated', { step: 'a' }), ev('SagaCompensated'),
    ev('LateSuccessRecorded', { step: 'b', queue: ['b'] }), undoSent('b', 1), ev('StepCompensated', { step: 'b' }), ev('SagaCompensated'),
  ];
  t.same(compensationOrderViolations(reopened, ['a', 'b']), [], 'a step done after all is undone when its success turns up');
  hseq = 0;
  exactly(t, compensationOrderViolations([dispatched('a', 1), ev('StepSucceeded', { step: 'a' }), ev('StepSucceeded', { step: 'a' })], ['a']), [/StepSucceeded a 2 times/]);
  hseq = 0;
  exactly(t, compensationOrderViolations([dispatched('a', 1), ev('StepFailed', { step: 'a', outcome: 'not_done' }), undoSent('a', 1)], ['a']), [/a compensated, but it never finished/]);
});

t.test('the ledger agrees with the journal', async (t) => {
  seq = 0;
  hseq = 0;
  const history = [dispatched('a', 1), ev('StepSucceeded', { step: 'a' }), dispatched('b', 1), ev('StepSucceeded', { step: 'b' }), ev('CompensationStarted'), undoSent('b', 1), undoSent('a', 1)];
  const ledger = [fact('do', 'a', 1, 'done'), fact('do', 'b', 1, 'done'), fact('undo', 'b', 1, 'done'), fact('undo', 'a', 1, 'done')];
  t.same(agreementViolations(history, ledger, SAGA, new Set(ledger.map((e) => e.commandId))), []);
  exactly(t, agreementViolations(history, [...ledger, fact('do', 'a', 1, 'duplicate', { commandId: 'stranger' })], SAGA), [/the participant got do a \(command stranger.*which the journal does not know/],
    'a command sagad sent without journaling it');
  exactly(t, agreementViolations(history, ledger.slice(0, 3), SAGA, new Set(ledger.slice(0, 3).map((e) => e.commandId))), [/undo a attempt 1 \(command c-undo-a-1\) never reached the participant/]);
  seq = 0;
  const swapped = [fact('do', 'a', 1, 'done'), fact('do', 'b', 1, 'done'), fact('undo', 'a', 1, 'done'), fact('undo', 'b', 1, 'done')];
  exactly(t, agreementViolations(history, swapped, SAGA), [/undos reached the participant in the order a, b, but the journal dispatched them as b, a/]);
});

t.test('sagaViolations over a whole instance', async (t) => {
  const doc = (state: string, steps: InstanceDoc['steps'] = []): InstanceDoc => ({ id: SAGA, saga: 'order-fulfillment', key: 'o-1', correlationId: 'c', state, definitionHash: 'h', steps });
  const step = (name: string, state: string, comp: string | null = null) => ({ name, state, attempts: 1, lastError: null, compensation: comp === null ? null : { state: comp, attempts: 1, lastError: null } });
  seq = 0;
  hseq = 0;
  const history = [ev('SagaStarted'), dispatched('reserve-inventory', 1), ev('StepSucceeded', { step: 'reserve-inventory' }), dispatched('charge-payment', 1),
    ev('StepFailed', { step: 'charge-payment', outcome: 'not_done' }), ev('CompensationStarted'), undoSent('reserve-inventory', 1),
    ev('StepCompensated', { step: 'reserve-inventory' }), ev('SagaCompensated')];
  const ledger = [fact('do', 'reserve-inventory', 1, 'done'), fact('do', 'charge-payment', 1, 'declined'), fact('undo', 'reserve-inventory', 1, 'done')];
  const sound = doc('compensated', [step('reserve-inventory', 'compensated', 'compensated'), step('charge-payment', 'failed'), step('ship-order', 'pending')]);
  t.same(sagaViolations(sound, history, ledger), [], 'a declined payment, the reservation released');
  exactly(t, sagaViolations(sound, history, ledger.slice(0, 2)), [/undo reserve-inventory attempt 1.*never|reserve-inventory was done and never undone/], 'the release never happened at the participant');
  exactly(t, sagaViolations(doc('completed', []), history, ledger), [/charge-payment was never done/, /ship-order was never done/, /compensations were sent: reserve-inventory/]);
  exactly(t, sagaViolations(doc('failed', []), history, ledger), [/ended failed, expected completed or compensated/]);
});
