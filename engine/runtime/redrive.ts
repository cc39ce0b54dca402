import { SagaError } from '../errors.js';
import type { LogFn } from '../log.js';
import type { DeadLetter } from '../store/index.js';
import type { StorePort } from '../store/port.js';
import type { OperatorAct } from './port.js';

/** Publishes raw bytes on a subject with headers and a Nats-Msg-Id; resolves once JetStream acknowledged. */
export type Republish = (subject: string, data: Uint8Array, headers: Record<string, string>, msgId: string) => Promise<void>;

/**
 * Publishes a dead letter again, once: the letter is marked redriven (with who asked) before
 * it is published, so a second redrive, in this process or another replica, is refused with
 * SAGA_ERR_ALREADY_REDRIVEN; a publish that fails takes the mark back. Logged with the
 * token's name and the reason.
 */
export async function redriveOnce(store: StorePort, republish: Republish | undefined, log: LogFn, id: string, act: OperatorAct): Promise<DeadLetter> {
  const letter = await store.getDead(id);
  if (letter === undefined) throw new SagaError('SAGA_ERR_NOT_FOUND', `no dead letter ${id}`);
  const again = (at: number) => new SagaError('SAGA_ERR_ALREADY_REDRIVEN',
    `dead letter ${id} was redriven already at ${new Date(at).toISOString()}; a letter is redriven once (if it failed again, it is a new letter)`);
  if (letter.redrivenAt !== null) throw again(letter.redrivenAt);
  if (republish === undefined) throw new SagaError('SAGA_ERR_NOT_READY', 'not connected to NATS');
  if (!(await store.markRedriven(id, Date.now(), act.by ?? null))) {
    const now = await store.getDead(id);
    if (now === undefined) throw new SagaError('SAGA_ERR_NOT_FOUND', `no dead letter ${id}`);
    throw again(now.redrivenAt ?? Date.now());
  }
  try {
    // A fresh Nats-Msg-Id, or JetStream would drop the redrive as a duplicate of the original.
    await republish(letter.subject, letter.data, { ...letter.headers }, `redrive-${id}-${Date.now()}`);
  } catch (err) {
    await store.unmarkRedriven(id);
    throw err;
  }
  log('info', 'operator redrove a dead letter', { action: 'redrive', deadLetter: id, subject: letter.subject, by: act.by ?? null, reason: act.reason ?? null });
  const after = await store.getDead(id);
  if (after === undefined) throw new SagaError('SAGA_ERR_NOT_FOUND', `no dead letter ${id}`);
  return after;
}
