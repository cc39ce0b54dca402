import { SagaError } from '../errors.js';
import type { LogFn } from '../log.js';
import type { DeadLetter } from '../store/index.js';
import type { StorePort } from '../store/port.js';
import type { OperatorAct } from './port.js';

/** Publishes raw bytes on a subject with headers and a Nats-Msg-Id; resolves once JetStream acknowledged. */
export type Republish = (subject: string, data: Uint8Array, headers: Record<string, string>, msgId: string) => Promise<void>;

/**
 * Headers JetStream reads as conditions or instructions for the publish itself (an expected
 * last sequence or message id, a rollup, a per-message TTL): copied back, they would refuse
 * or change the redrive, so they are left off. Everything else is published as it arrived.
 */
const PUBLISH_CONDITIONS = /^nats-(expected-|rollup$|ttl$)/i;

/** The header a redrive adds: the letter's id, so that a copy that changes nothing is logged with it (inbound.ts). */
export const REDRIVE_HEADER = 'Saga-Redrive-Of';

/** Pure: the letter's headers as a redrive publishes them, with the letter's id. */
export function replayHeaders(headers: Readonly<Record<string, string>>, letterId: string): Record<string, string> {
  return { ...Object.fromEntries(Object.entries(headers).filter(([k]) => !PUBLISH_CONDITIONS.test(k))), [REDRIVE_HEADER]: letterId };
}

/**
 * Publishes a dead letter again, once. It is published first, under a `Nats-Msg-Id` of its
 * own that every attempt for the letter shares, and marked redriven (with who asked) after:
 * a crash or a store failure in between leaves it unmarked, to be redriven again (JetStream
 * drops the second copy within its duplicate window, the inbox by its eventId after it),
 * never marked and not published. A second redrive once it is marked, in this process or
 * another replica, is refused with SAGA_ERR_ALREADY_REDRIVEN; two at once publish one copy.
 * Logged with the token's name and the reason.
 */
export async function redriveOnce(store: StorePort, republish: Republish | undefined, log: LogFn, id: string, act: OperatorAct): Promise<DeadLetter> {
  const letter = await store.getDead(id);
  if (letter === undefined) throw new SagaError('SAGA_ERR_NOT_FOUND', `no dead letter ${id}`);
  const again = (at: number) => new SagaError('SAGA_ERR_ALREADY_REDRIVEN',
    `dead letter ${id} was redriven already at ${new Date(at).toISOString()}; a letter is redriven once (if it failed again, it is a new letter)`);
  if (letter.redrivenAt !== null) throw again(letter.redrivenAt);
  if (republish === undefined) throw new SagaError('SAGA_ERR_NOT_READY', 'not connected to NATS');
  // Not the original's Nats-Msg-Id, or JetStream would drop the redrive as a duplicate of it;
  // the letter's time too, as a SQLite letter id may be given again once its letter is deleted.
  await republish(letter.subject, letter.data, replayHeaders(letter.headers, id), `redrive-${id}-${letter.receivedAt}`);
  if (!(await store.markRedriven(id, Date.now(), act.by ?? null))) {
    const now = await store.getDead(id);
    if (now === undefined) throw new SagaError('SAGA_ERR_NOT_FOUND', `no dead letter ${id}`);
    throw again(now.redrivenAt ?? Date.now());
  }
  log('info', 'operator redrove a dead letter', { action: 'redrive', deadLetter: id, subject: letter.subject, by: act.by ?? null, reason: act.reason ?? null });
  const after = await store.getDead(id);
  if (after === undefined) throw new SagaError('SAGA_ERR_NOT_FOUND', `no dead letter ${id}`);
  return after;
}
