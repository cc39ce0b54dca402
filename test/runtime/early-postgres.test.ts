/**
 * An early event (issue 12) pulled by a PostgreSQL replica that has not loaded the definition
 * whose wait step awaits it (a rolling deploy: replica B still runs the older file) is kept,
 * not acked as unrelated and lost: B asks the store for the instances of its correlation id, as
 * it asks for the waiters, and judges each by the definition it runs. Two engines on one real
 * PostgreSQL 15, as two replicas.
 */
import t from 'tap';
import { silentLog } from '../../engine/log.js';
import { Engine, type Incoming } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import type { OutboxRow } from '../../engine/store/index.js';
import { openPostgresStore } from '../../engine/store/postgres/index.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';
import { startPostgres } from '../helpers/postgres.js';

const command = `
      - name: reserve
        command: { subject: inventory.commands, type: Reserve }
        reply: { subject: inventory.events, success: [Reserved] }
        compensate:
          command: { subject: inventory.commands, type: Release }
          reply: { subject: inventory.events, success: [Released] }`;
const ship = `
      - name: ship
        pivot: true
        command: { subject: shipping.commands, type: Ship }
        reply: { subject: shipping.events, success: [Shipped] }
        retry: { maxAttempts: unlimited, initialInterval: 100ms }`;
const head = `
sagas:
  - name: order
    defaults: { timeout: 1h, retry: { maxAttempts: 2, initialInterval: 100ms } }
    steps:`;
// The newer file, with the wait; the older one without it (and a saga started by another type on the subject, so B consumes it).
const newer = `${head}${command}
      - name: await-approval
        wait: { subject: orders.approvals, type: OrderApproved }
        timeout: 1h${ship}
`;
const older = `${head}${command}${ship}
  - name: audit
    start: { on: { subject: orders.approvals, type: AuditMe } }
    steps:
      - name: log
        pivot: true
        command: { subject: audit.commands, type: Log }
        reply: { subject: audit.events, success: [Logged] }
        retry: { maxAttempts: unlimited, initialInterval: 100ms }
        timeout: 10s
`;

/** A message as the inbound handler hands it to the engine, its bytes included. */
function incoming(subject: string, eventId: string, eventType: string, correlationId: string, causationId: string, payload: Record<string, unknown>): Incoming {
  const envelope = { eventId, eventType, aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId, causationId: causationId === '' ? null : causationId, payload };
  return { subject, eventId, eventType, correlationId, causationId, aggregateId: 'a', version: 1, payload, envelope, raw: { data: encodeEnvelope(envelope), headers: {} } };
}

t.test('an early event pulled by a replica without the waiting definition is kept, then taken when the wait starts', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.stop());
  const url = await server.createDatabase();
  const storeA = await openPostgresStore(url);
  const storeB = await openPostgresStore(url);
  t.teardown(async () => {
    await storeA.close();
    await storeB.close();
  });
  const sent: OutboxRow[] = [];
  const a = new Engine({ store: storeA, registry: new Registry(sagasOf(newer)), log: silentLog, relay: { push: (rows) => { sent.push(...rows); } } });
  const b = new Engine({ store: storeB, registry: new Registry(sagasOf(older)), log: silentLog });
  await a.rememberDefinitions();
  await b.rememberDefinitions();

  const { state } = await a.start({ saga: 'order', input: {}, correlationId: 'c-1' });
  t.equal(await b.receive(incoming('orders.approvals', 'ap-1', 'OrderApproved', 'c-1', '', { approver: 'ann' })), 'early', 'B keeps it for the instance');
  t.same((await storeA.earlyEventsOf(state.id)).map((e) => e.eventId), ['ap-1']);
  t.equal(await b.receive(incoming('orders.approvals', 'ap-x', 'OrderApproved', 'c-other', '', {})), 'unrelated', 'an event of no instance is still unrelated');

  const reserve = sent.map((r) => parseEnvelope(r.data)).find((p) => p.ok && p.envelope.eventType === 'Reserve');
  if (reserve === undefined || !reserve.ok) throw new Error('no Reserve command');
  t.equal(await a.receive(incoming('inventory.events', 'r-1', 'Reserved', 'c-1', reserve.envelope.eventId, {})), 'reply');
  await a.settled();
  const after = await storeA.getInstance(state.id);
  t.equal(after?.steps['await-approval']?.status, 'succeeded', 'the wait took the kept approval as it started');
  t.same(after?.steps['await-approval']?.output, { approver: 'ann' });
  t.equal(after?.steps['ship']?.status, 'running', 'and the saga went on');
  t.same(await storeA.earlyEventsOf(state.id), []);
});
