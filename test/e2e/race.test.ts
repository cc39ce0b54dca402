import t from 'tap';
import type { Engine } from '../../engine/runtime/engine.js';
import { inboundHandler } from '../../engine/runtime/inbound.js';
import type { InboundMessage } from '../../engine/transport/consumer.js';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import type { InstanceDoc } from './api-client.js';
import { startInProcess, replyOf } from './in-process.js';
import { realEffects, sagaViolations } from './invariants.js';
import type { LedgerEntry } from './ledger.js';

/**
 * An operator's cancel or retry racing a participant's reply inside one group commit: the
 * engine runs in this process, and each pair is handed over in one turn of the event loop, in
 * both orders. The reply is the one the participant decided on (its ledger), which never got
 * through on its own (`silent<op>`). Whatever the order, the result is one the guarantee allows.
 */
const p = await startInProcess(t);
const { engine } = p.server;
/** The consumers' handler of this engine: a message in, a verdict out. */
const handleInbound = (e: Engine, msg: InboundMessage) => inboundHandler(e, e.deps.store, e.deps.log)(msg);

const attemptOf = (id: string, step: string, action: 'do' | 'undo', attempt?: number) => (): LedgerEntry | undefined =>
  p.ledger().filter((e) => e.sagaId === id && e.step === step && e.action === action && (attempt === undefined || e.attempt === attempt)).at(-1);

/** How an operator act ended: accepted, or refused with its code. */
const outcome = (act: Promise<unknown>): Promise<string> => act.then(() => 'accepted', (err: unknown) => String((err as { code?: string }).code ?? err));

async function judged(id: string): Promise<InstanceDoc> {
  const doc = await p.api.settled(id);
  t.same(sagaViolations(doc, await p.api.history(id), p.ledger()), [], `${doc.key ?? id}: saga guarantee`, p.diag());
  return doc;
}

t.test('cancel and a success reply in the same commit, in both orders', async (t) => {
  const x = await p.api.started(order('o-race-x~silentcharge'));
  const y = await p.api.started(order('o-race-y~silentcharge'));
  const factX = await waitFor(attemptOf(x.id, 'charge-payment', 'do', 1), 10_000, { what: 'the charge of x' });
  const factY = await waitFor(attemptOf(y.id, 'charge-payment', 'do', 1), 10_000, { what: 'the charge of y' });
  t.same([factX.effect, factY.effect], ['done', 'done'], 'both cards were charged');

  // One turn: x's reply then its cancel, y's cancel then its reply.
  const xReply = handleInbound(engine, replyOf(factX, 'payments.events', x.correlationId));
  const xCancel = outcome(engine.cancel(x.id, 'race'));
  const yCancel = outcome(engine.cancel(y.id, 'race'));
  const yReply = handleInbound(engine, replyOf(factY, 'payments.events', y.correlationId));
  t.same(await Promise.all([xReply, yReply]), ['ack', 'ack'], 'both replies were taken');
  const acts = { x: await xCancel, y: await yCancel };

  // Allowed: the success first, so the pivot is out and the cancel is refused, and the saga
  // completes; or the cancel first, so the charge (an unknown outcome, then a late success) is refunded.
  const allowed = [['SAGA_ERR_PAST_PIVOT', 'completed'], ['accepted', 'compensated']];
  for (const [name, s, act] of [['x', x, acts.x], ['y', y, acts.y]] as const) {
    const doc = await judged(s.id);
    t.ok(allowed.some(([a, end]) => a === act && end === doc.state), `${name}: cancel ${act}, then ${doc.state}: an allowed outcome`, p.diag());
    const charge = realEffects(p.ledger(), s.id).filter(([step]) => step === 'charge-payment');
    t.same(charge, doc.state === 'completed' ? [['charge-payment', 'do', 'done']] : [['charge-payment', 'do', 'done'], ['charge-payment', 'undo', 'done']],
      `${name}: charged once${doc.state === 'completed' ? '' : ', refunded once'}`);
  }
});

t.test('retry of a failed compensation and the refund reply that finally arrives, in the same commit, in both orders', async (t) => {
  const a = await p.api.started(order('o-race-a~silentrefund~shipreject'));
  const b = await p.api.started(order('o-race-b~silentrefund~shipreject'));
  for (const s of [a, b]) t.equal((await p.api.settled(s.id, 20_000, ['failed'])).state, 'failed', `${s.key ?? s.id}: failed, its refunds unanswered`, p.diag());
  const factA = attemptOf(a.id, 'charge-payment', 'undo')();
  const factB = attemptOf(b.id, 'charge-payment', 'undo')();
  if (factA === undefined || factB === undefined) throw new Error('no refund in the ledger');
  // From now on the payment service answers its refunds.
  p.flag('o-race-a~silentrefund~shipreject', 'refund');
  p.flag('o-race-b~silentrefund~shipreject', 'refund');

  const aReply = handleInbound(engine, replyOf(factA, 'payments.events', a.correlationId));
  const aRetry = outcome(engine.retry(a.id));
  const bRetry = outcome(engine.retry(b.id));
  const bReply = handleInbound(engine, replyOf(factB, 'payments.events', b.correlationId));
  t.same(await Promise.all([aReply, bReply]), ['ack', 'ack'], 'both replies were taken');
  t.same([await aRetry, await bRetry], ['accepted', 'accepted'], 'both retries were accepted');
  for (const s of [a, b]) {
    const doc = await judged(s.id);
    t.equal(doc.state, 'compensated', `${s.key ?? s.id}: compensated`, p.diag());
    t.same(realEffects(p.ledger(), s.id).filter(([, action]) => action === 'undo'), [['charge-payment', 'undo', 'done'], ['reserve-inventory', 'undo', 'done']],
      'refunded once, then released');
  }
});
