/**
 * An early event (issue 12) pulled by a PostgreSQL replica that has not loaded the definition
 * whose wait step awaits it (a rolling deploy: replica B still runs the older file) is kept,
 * not acked as unrelated and lost: B knows the waits of every stored definition
 * (engine/runtime/stored-waits.ts), read in the background, so the message itself costs no
 * query more. Two engines on one real PostgreSQL, as two replicas; then the stored waits on
 * their own: a new hash is read after a refresh, its source once, and a failing store is
 * reported and retried. Last, the same through the composition root (startSagad) of the
 * replica on the older file, with a real nats-server.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../engine/config.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog, type LogFn } from '../../engine/log.js';
import { startSagad } from '../../engine/main.js';
import { Engine, type Incoming } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { StoredWaits } from '../../engine/runtime/stored-waits.js';
import type { OutboxRow } from '../../engine/store/index.js';
import type { StorePort } from '../../engine/store/port.js';
import { openPostgresStore } from '../../engine/store/postgres/index.js';
import { connectNats } from '../../engine/transport/connection.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { sagaOf, sagasOf } from '../definitions/fixtures/saga-yaml.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startPostgres } from '../helpers/postgres.js';
import { until } from '../helpers/until.js';

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

/** The real store, with the calls of the methods named counted (a recorder, not a stand-in: every call goes to PostgreSQL). */
function counted(store: StorePort, names: readonly (keyof StorePort)[]): { store: StorePort; calls: Map<string, unknown[][]> } {
  const calls = new Map<string, unknown[][]>(names.map((n) => [n, []]));
  const proxy = new Proxy(store, {
    get(target, p, receiver) {
      const value: unknown = Reflect.get(target, p, receiver);
      const seen = typeof p === 'string' ? calls.get(p) : undefined;
      if (seen === undefined || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        seen.push(args);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

/** A log that keeps its lines. */
function keptLog(): { log: LogFn; lines: { level: string; msg: string; fields: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  return { log: (level, msg, fields = {}) => { lines.push({ level, msg, fields }); }, lines };
}

const server = await startPostgres();
t.teardown(() => server.stop());

t.test('an early event pulled by a replica without the waiting definition is kept, then taken when the wait starts', async (t) => {
  const url = await server.createDatabase();
  const storeA = await openPostgresStore(url);
  const storeB = await openPostgresStore(url);
  t.teardown(async () => {
    await storeA.close();
    await storeB.close();
  });
  // B runs the older file and is up first; A, with the newer file, joins (a rolling deploy).
  const b0 = counted(storeB, ['listInstances', 'listDefinitions']);
  const storedB = new StoredWaits({ store: b0.store, log: silentLog });
  const b = new Engine({ store: b0.store, registry: new Registry(sagasOf(older)), storedWaits: storedB, log: silentLog });
  await b.rememberDefinitions();
  await storedB.refresh();
  const sent: OutboxRow[] = [];
  const a = new Engine({ store: storeA, registry: new Registry(sagasOf(newer)), log: silentLog, relay: { push: (rows) => { sent.push(...rows); } } });
  await a.rememberDefinitions();

  // The residual window (README, early events): until B's next refresh it does not know A's wait.
  const { state: before } = await a.start({ saga: 'order', input: {}, correlationId: 'c-0' });
  t.equal(await b.receive(incoming('orders.approvals', 'ap-0', 'OrderApproved', 'c-0', '', {})), 'unrelated', 'before B has read A\'s definition, the event is acked as unrelated');
  t.same(await storeA.earlyEventsOf(before.id), []);

  await storedB.refresh();
  const { state } = await a.start({ saga: 'order', input: {}, correlationId: 'c-1' });
  const lookups = b0.calls.get('listDefinitions')?.length;
  t.equal(await b.receive(incoming('orders.approvals', 'ap-1', 'OrderApproved', 'c-1', '', { approver: 'ann' })), 'early', 'B keeps it for the instance');
  t.same((await storeA.earlyEventsOf(state.id)).map((e) => e.eventId), ['ap-1']);
  t.equal(await b.receive(incoming('orders.approvals', 'ap-x', 'OrderApproved', 'c-other', '', {})), 'unrelated', 'an event of no instance is still unrelated');
  const asked = b0.calls.get('listInstances')?.length ?? 0;
  t.equal(await b.receive(incoming('orders.approvals', 'ap-y', 'OrderWithdrawn', 'c-1', '', {})), 'unrelated', 'a type no stored definition awaits is unrelated');
  t.equal(b0.calls.get('listInstances')?.length, asked, 'and its instances are not looked up');
  t.equal(b0.calls.get('listDefinitions')?.length, lookups, 'no message asked for the stored definitions');

  const reserve = sent.map((r) => parseEnvelope(r.data)).find((p) => p.ok && p.envelope.eventType === 'Reserve' && p.envelope.correlationId === 'c-1');
  if (reserve === undefined || !reserve.ok) throw new Error('no Reserve command');
  t.equal(await a.receive(incoming('inventory.events', 'r-1', 'Reserved', 'c-1', reserve.envelope.eventId, {})), 'reply');
  await a.settled();
  const after = await storeA.getInstance(state.id);
  t.equal(after?.steps['await-approval']?.status, 'succeeded', 'the wait took the kept approval as it started');
  t.same(after?.steps['await-approval']?.output, { approver: 'ann' });
  t.equal(after?.steps['ship']?.status, 'running', 'and the saga went on');
  t.same(await storeA.earlyEventsOf(state.id), []);
});

t.test('the stored waits: a new hash is read at the next refresh, each source once; one that does not compile is reported once', async (t) => {
  const url = await server.createDatabase();
  const store = await openPostgresStore(url);
  const other = await openPostgresStore(url);
  t.teardown(async () => {
    await store.close();
    await other.close();
  });
  const rec = counted(store, ['getDefinitionSource']);
  const { log, lines } = keptLog();
  const waits = new StoredWaits({ store: rec.store, log, intervalMs: 10 });
  t.teardown(() => waits.stop());
  const plain = sagaOf(`${head}${command}${ship}\n`);
  await other.rememberDefinition(plain.hash, plain.name, plain.source);
  await waits.start();
  t.equal(waits.awaits('orders.approvals', 'OrderApproved'), false, 'no stored definition waits for it yet');

  // Another replica stores the newer definition; the background refresh reads it.
  const waiting = sagaOf(newer);
  await other.rememberDefinition(waiting.hash, waiting.name, waiting.source);
  await waits.refreshed();
  t.equal(waits.awaits('orders.approvals', 'OrderApproved'), true, 'the new hash\'s wait is known after a refresh');
  t.equal(waits.awaits('orders.approvals', 'AuditMe'), false, 'another type on its subject is not');
  t.equal(waits.awaits('inventory.events', 'Reserved'), false, 'nor a command step\'s reply');

  await other.rememberDefinition('not-a-definition', 'broken', '{"name": ');
  await waits.refreshed();
  await waits.refreshed();
  const fetched = (rec.calls.get('getDefinitionSource') ?? []).map(([hash]) => hash);
  t.same(fetched.sort(), [plain.hash, waiting.hash, 'not-a-definition'].sort(), 'each source read once, however many refreshes');
  t.match(lines.filter((l) => l.level === 'warn'), [{ msg: /does not compile here/, fields: { saga: 'broken', hash: 'not-a-definition' } }], 'the source that does not compile reported once');
  t.equal(waits.awaits('orders.approvals', 'OrderApproved'), true, 'the others\' waits stay known');
});

t.test('a failing store is reported, retried, and the waits read before stay known', async (t) => {
  const url = await server.createDatabase();
  const store = await openPostgresStore(url);
  const waiting = sagaOf(newer);
  await store.rememberDefinition(waiting.hash, waiting.name, waiting.source);
  const { log, lines } = keptLog();
  const waits = new StoredWaits({ store, log, intervalMs: 10 });
  t.teardown(() => waits.stop());
  await waits.start();
  t.equal(waits.awaits('orders.approvals', 'OrderApproved'), true);

  await store.close();
  await t.rejects(waits.refresh(), 'a refresh asked for says it failed');
  // The timer goes on after failures: two more refreshes end, each failed.
  await waits.refreshed();
  await waits.refreshed();
  const failures = lines.filter((l) => /failed/.test(l.msg));
  t.equal(failures.length, 1, 'reported once per interval of the throttled log, not at every refresh');
  t.match(failures[0], { level: 'warn', fields: { error: String } });
  t.equal(waits.awaits('orders.approvals', 'OrderApproved'), true, 'what was read before stays known');
  await waits.stop();
});

t.test('past its first day only the newest definition of each saga and those of unfinished instances count; a source that throws hides none stored after it', async (t) => {
  const url = await server.createDatabase();
  const store = await openPostgresStore(url);
  t.teardown(() => store.close());
  // One stored source makes the compiler throw (not a string: as a store of another version might answer); it is stored first.
  const bent: StorePort = Object.create(store) as StorePort;
  bent.getDefinitionSource = async (hash) => (hash === 'bent' ? (42 as unknown as string) : store.getDefinitionSource(hash));
  await store.rememberDefinition('bent', 'other', 'version: 1');
  const { log, lines } = keptLog();
  const waits = new StoredWaits({ store: bent, log, intervalMs: 60_000, inUseMs: 0, recentMs: 0 });
  t.teardown(() => waits.stop());
  const waiting = sagaOf(newer);
  await store.rememberDefinition(waiting.hash, waiting.name, waiting.source);
  await waits.refresh();
  t.equal(waits.awaits('orders.approvals', 'OrderApproved'), true, 'the definition stored after the one that throws is read');
  t.match(lines, [{ level: 'warn', msg: /does not compile here/, fields: { saga: 'other', hash: 'bent' } }], 'the one that throws is reported');
  await waits.refresh();
  t.equal(lines.length, 1, 'once');

  // A newer file drops the wait, and no instance runs the older one: its wait no longer counts.
  const plain = sagaOf(`${head}${command}${ship}\n`);
  await store.rememberDefinition(plain.hash, plain.name, plain.source);
  await waits.refresh();
  t.equal(waits.awaits('orders.approvals', 'OrderApproved'), false, 'a superseded definition without unfinished instances awaits nothing');
  // Within its first day it counts all the same (a rolling deploy, whichever replica stored its file last).
  const recent = new StoredWaits({ store: bent, log: silentLog, intervalMs: 60_000 });
  await recent.refresh();
  t.equal(recent.awaits('orders.approvals', 'OrderApproved'), true, 'a definition first stored today counts, superseded or not');
  // An instance of the older definition still runs (started by a replica on it): its wait counts again.
  const old = new Engine({ store, registry: new Registry(sagasOf(newer)), log: silentLog });
  await old.start({ saga: 'order', input: {}, correlationId: 'c-9' });
  await waits.refresh();
  t.equal(waits.awaits('orders.approvals', 'OrderApproved'), true, 'the definition of an unfinished instance counts');
});

t.test('past their first day, superseded definitions no instance runs are not read nor compiled: a long history costs a start nothing', async (t) => {
  const url = await server.createDatabase();
  const store = await openPostgresStore(url);
  t.teardown(() => store.close());
  const rec = counted(store, ['getDefinitionSource']);
  // Years of deploys: the version with the wait first, then 30 without it, the last the newest.
  const waiting = sagaOf(newer);
  await store.rememberDefinition(waiting.hash, waiting.name, waiting.source, 1_000);
  const versions = Array.from({ length: 30 }, (_, i) => sagaOf(`${head}${command}${ship.replace('100ms', `${101 + i}ms`)}\n`));
  for (const [i, v] of versions.entries()) await store.rememberDefinition(v.hash, v.name, v.source, 2_000 + i);
  t.equal(new Set(versions.map((v) => v.hash)).size, 30, 'thirty versions');
  const waits = new StoredWaits({ store: rec.store, log: silentLog, intervalMs: 60_000, inUseMs: 0, recentMs: 0 });
  t.teardown(() => waits.stop());
  await waits.start();
  const fetched = () => (rec.calls.get('getDefinitionSource') ?? []).map(([hash]) => hash);
  t.same(fetched(), [versions.at(-1)?.hash], 'only the newest source read');
  t.equal(waits.awaits('orders.approvals', 'OrderApproved'), false);

  // An instance of the old version with the wait starts (a replica on that file): now it counts, and is read.
  const old = new Engine({ store, registry: new Registry(sagasOf(newer)), log: silentLog });
  await old.start({ saga: 'order', input: {}, correlationId: 'c-old' });
  await waits.refresh();
  t.equal(waits.awaits('orders.approvals', 'OrderApproved'), true, 'the definition of an unfinished instance counts');
  t.same(fetched(), [versions.at(-1)?.hash, waiting.hash], 'its source read then, once');
});

t.test('a sagad on the older file keeps the approval for an instance of the newer one, and takes it itself when the wait starts', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const db = await server.createDatabase();
  // A, on the newer file, as an engine of its own: it stores its definition, then starts an instance.
  const storeA = await openPostgresStore(db);
  t.teardown(() => storeA.close());
  const sent: OutboxRow[] = [];
  const a = new Engine({ store: storeA, registry: new Registry(sagasOf(newer)), log: silentLog, relay: { push: (rows) => { sent.push(...rows); } } });
  await a.rememberDefinitions();
  // B, on the older file, through the composition root (startSagad), which reads the stored waits before it consumes.
  const file = join(t.testdir(), 'older.yaml');
  writeFileSync(file, older);
  const defs = loadDefinitionsFile(file);
  if (!defs.ok) throw new Error(`the test's definitions are invalid: ${JSON.stringify(defs.errors)}`);
  const b = await startSagad(loadConfig({ SAGA_DEFINITIONS: file, SAGA_DB: db, NATS_URL: nats.url, SAGA_HTTP_PORT: '0' }), defs.sagas, silentLog);
  t.teardown(() => b.stop());
  const { state } = await a.start({ saga: 'order', input: {}, correlationId: 'c-e2e' });

  const link = await connectNats({ url: nats.url, name: 'early-postgres-test' });
  t.teardown(() => link.close());
  const publish = async (subject: string, m: Incoming) => {
    if (m.raw === undefined) throw new Error('no bytes');
    await publishEnvelope(link.js, subject, m.raw.data, {}, m.eventId);
  };
  // The wait cannot start before the reply below: the approval is early whenever B reads it.
  await publish('orders.approvals', incoming('orders.approvals', 'ap-e2e', 'OrderApproved', 'c-e2e', '', { approver: 'bo' }));
  await until(async () => (await b.store.earlyEventsOf(state.id)).length === 1, 'B to keep the approval', { withinMs: 10_000, everyMs: 20 });
  const reserve = sent.map((r) => parseEnvelope(r.data)).find((p) => p.ok && p.envelope.eventType === 'Reserve');
  if (reserve === undefined || !reserve.ok) throw new Error('no Reserve command');
  await publish('inventory.events', incoming('inventory.events', 'r-e2e', 'Reserved', 'c-e2e', reserve.envelope.eventId, {}));
  await until(async () => (await b.store.getInstance(state.id))?.steps['await-approval']?.status === 'succeeded', 'the wait to take the kept approval', { withinMs: 10_000, everyMs: 20 });
  t.same((await b.store.getInstance(state.id))?.steps['await-approval']?.output, { approver: 'bo' }, 'the wait took the approval B kept');
  t.same(await b.store.earlyEventsOf(state.id), []);
});
