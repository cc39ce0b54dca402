import type { JetStreamManager } from '@nats-io/jetstream';
import type { Test } from 'tap';
import { parseEnvelope } from '../../engine/transport/envelope.js';
import type { HistoryEntry } from './api-client.js';
import { pool } from './harness.js';
import type { World } from './harness.js';

/** A message as JetStream stored it. */
export interface Stored { seq: number; subject: string; msgId: string; sagaId: string; eventType: string }

/** Every message `stream` holds, oldest first, read one by one (the streams of a test hold a few hundred). */
export async function storedMessages(jsm: JetStreamManager, stream: string): Promise<Stored[]> {
  const { state } = (await jsm.streams.info(stream));
  const out: Stored[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m === null) continue;
    const e = parseEnvelope(m.data);
    out.push({
      seq, subject: m.subject, msgId: m.header.get('Nats-Msg-Id'), sagaId: m.header.get('Saga-Id'), eventType: e.ok ? e.envelope.eventType : '',
    });
  }
  return out;
}

const LIFECYCLE_END: Record<string, string> = { completed: 'SagaCompleted', compensated: 'SagaCompensated', failed: 'SagaFailed' };

/**
 * What the outbox put on NATS, read from the streams themselves: every command the journals
 * dispatched is stored exactly once under its id (a re-send kept its Nats-Msg-Id, so JetStream
 * dropped it) and nothing else was; every instance has exactly one SagaStarted and one end
 * event on `sagas.events`. Call once every instance has ended and the outbox drained.
 */
export async function checkPublishedOnce(t: Test, w: World): Promise<void> {
  const { jsm } = await w.link();
  const instances = await w.api.list();
  const histories = new Map<string, HistoryEntry[]>();
  await pool(instances, 8, async (i) => { histories.set(i.id, await w.api.history(i.id)); });
  const dispatched = [...histories.values()].flat()
    .filter((h) => h.type === 'StepDispatched' || h.type === 'CompensationDispatched').map((h) => String(h.data.commandId)).sort();

  const commands: Stored[] = [];
  for (const stream of ['INVENTORY', 'PAYMENTS', 'SHIPPING']) {
    commands.push(...(await storedMessages(jsm, stream)).filter((m) => m.subject.endsWith('.commands')));
  }
  const ids = commands.map((m) => m.msgId).sort();
  t.equal(ids.length, new Set(ids).size, 'no command is stored twice', { twice: ids.filter((id, i) => ids[i - 1] === id) });
  t.same(ids, dispatched, 'the command streams hold exactly the commands the journals dispatched');

  const lifecycle = await storedMessages(jsm, 'SAGAS');
  const problems: string[] = [];
  for (const i of instances) {
    const mine = lifecycle.filter((m) => m.sagaId === i.id).map((m) => m.eventType);
    const want = ['SagaStarted', LIFECYCLE_END[i.state] ?? `(no end event for ${i.state})`];
    if (JSON.stringify(mine) !== JSON.stringify(want)) problems.push(`${i.id} (${i.state}): ${mine.join(', ') || 'nothing'}`);
  }
  t.same(problems, [], 'every instance published SagaStarted and its end event once, in that order');
  const known = new Set(instances.map((i) => i.id));
  t.same(lifecycle.filter((m) => !known.has(m.sagaId)), [], 'no lifecycle event of an unknown instance');
}
