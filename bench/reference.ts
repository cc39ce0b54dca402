import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AckPolicy, jetstreamManager, StorageType, type JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { encodeEnvelope, type Envelope } from '../engine/transport/envelope.js';
import { SUBJECTS, envelope, link } from './wire.js';

/**
 * The reference loop: what this machine does with the same parts and no framework. Per step:
 * one JetStream message in (durable pull consumer), one SQLite WAL transaction with
 * synchronous=FULL (append an event row, upsert the saga's state row), one JetStream publish
 * out, and the input acked once that publish is acknowledged. Same 3-step saga and
 * compensation order as sagas/order-fulfillment.yaml; sagas are keyed by correlationId.
 * No inbox, no outbox, no timers, no schema checks: a floor, not a competitor.
 */
const FORWARD = [
  { name: 'reserve-inventory', subject: 'inventory.commands', type: 'ReserveInventory' },
  { name: 'charge-payment', subject: 'payments.commands', type: 'ChargePayment' },
  { name: 'ship-order', subject: 'shipping.commands', type: 'ShipOrder' },
] as const;
const UNDO = [
  { name: 'reserve-inventory', subject: 'inventory.commands', type: 'ReleaseInventory' },
  { name: 'charge-payment', subject: 'payments.commands', type: 'RefundPayment' },
] as const;
const FAILURES: ReadonlySet<string> = new Set(['OutOfStock', 'PaymentDeclined', 'ShipmentRejected']);

interface Row { id: string; step: number; status: string; version: number; last_command: string | null; data: string }
interface Out { subject: string; env: Envelope; headers: Record<string, string> }

function openDb(file: string): Database.Database {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS events (saga_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, at INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (saga_id, seq)) STRICT;
    CREATE TABLE IF NOT EXISTS sagas (id TEXT PRIMARY KEY, step INTEGER NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL,
      last_command TEXT, updated_at INTEGER NOT NULL, data TEXT NOT NULL) STRICT;`);
  return db;
}

/** Decides one input against its saga row; returns the new row and the message to publish, or null to ignore it. */
function decide(row: Row | undefined, subject: string, e: Envelope): { row: Row; out: Out } | null {
  const command = (id: string, step: number, spec: { name: string; subject: string; type: string }, undo: boolean, input: Record<string, unknown>): Out => {
    const env = envelope(spec.type, String(input.orderId), e.correlationId, e.eventId, { orderId: input.orderId, step: spec.name });
    return { subject: spec.subject, env, headers: { 'Saga-Id': id, 'Saga-Step': spec.name, 'Idempotency-Key': `${id}/${spec.name}/${undo ? 'undo' : 'do'}` } };
  };
  const end = (id: string, type: string): Out => ({ subject: SUBJECTS.lifecycle, env: envelope(type, id, id, e.eventId, {}), headers: { 'Saga-Id': id } });
  if (subject === SUBJECTS.start) {
    if (row !== undefined || e.eventType !== 'OrderPlaced') return null;
    const id = e.correlationId;
    const out = command(id, 0, FORWARD[0], false, e.payload);
    return { row: { id, step: 0, status: 'running', version: 1, last_command: out.env.eventId, data: JSON.stringify({ input: e.payload }) }, out };
  }
  if (row === undefined || row.last_command !== e.causationId) return null; // unrelated or a duplicate
  const data = JSON.parse(row.data) as { input: Record<string, unknown> };
  const next = (step: number, status: string, out: Out): { row: Row; out: Out } =>
    ({ row: { ...row, step, status, version: row.version + 1, last_command: out.env.eventId, data: JSON.stringify({ ...data, [`r${row.step}`]: e.payload }) }, out });
  if (row.status === 'running') {
    if (FAILURES.has(e.eventType)) {
      const undo = UNDO[row.step - 1];
      return undo === undefined ? next(-1, 'compensated', end(row.id, 'SagaCompensated')) : next(row.step - 1, 'compensating', command(row.id, row.step - 1, undo, true, data.input));
    }
    const fwd = FORWARD[row.step + 1];
    return fwd === undefined ? next(row.step, 'completed', end(row.id, 'SagaCompleted')) : next(row.step + 1, 'running', command(row.id, row.step + 1, fwd, false, data.input));
  }
  if (row.status === 'compensating') {
    const undo = UNDO[row.step - 1];
    return undo === undefined ? next(-1, 'compensated', end(row.id, 'SagaCompensated')) : next(row.step - 1, 'compensating', command(row.id, row.step - 1, undo, true, data.input));
  }
  return null;
}

async function main(): Promise<void> {
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const db = openDb(process.env.REF_DB ?? './data/reference.db');
  const get = db.prepare<[string], Row>('SELECT id, step, status, version, last_command, data FROM sagas WHERE id = ?');
  const append = db.prepare<[string, number, string, number, string]>('INSERT INTO events (saga_id, seq, type, at, data) VALUES (?, ?, ?, ?, ?)');
  const upsert = db.prepare<[string, number, string, number, string | null, number, string]>(`
    INSERT INTO sagas (id, step, status, version, last_command, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET step = excluded.step, status = excluded.status, version = excluded.version,
      last_command = excluded.last_command, updated_at = excluded.updated_at, data = excluded.data`);
  const apply = db.transaction((subject: string, e: Envelope): Out | null => {
    const d = decide(get.get(e.correlationId), subject, e);
    if (d === null) return null;
    const now = Date.now();
    append.run(d.row.id, d.row.version, e.eventType, now, JSON.stringify(e.payload));
    upsert.run(d.row.id, d.row.step, d.row.status, d.row.version, d.row.last_command, now, d.row.data);
    return d.out;
  });

  const { nc, js } = await link(natsUrl, 'bench-reference');
  const jsm = await jetstreamManager(nc);
  const streams = { ORDERS: 'orders.>', INVENTORY: 'inventory.>', PAYMENTS: 'payments.>', SHIPPING: 'shipping.>', SAGAS: SUBJECTS.lifecycle };
  for (const [name, subject] of Object.entries(streams)) {
    await jsm.streams.add({ name, subjects: [subject], storage: StorageType.File, duplicate_window: 120_000_000_000 });
  }
  const decoder = new TextDecoder();
  const handle = (m: JsMsg): void => {
    const e = JSON.parse(decoder.decode(m.data)) as Envelope;
    const out = apply.immediate(m.subject, e);
    if (out === null) {
      m.ack();
      return;
    }
    const h = natsHeaders();
    for (const [k, v] of Object.entries(out.headers)) h.set(k, v);
    js.publish(out.subject, encodeEnvelope(out.env), { msgID: out.env.eventId, headers: h }).then(() => m.ack(), () => m.nak(100));
  };
  const inbound: [string, string][] = [[SUBJECTS.start, 'ORDERS'], ['inventory.events', 'INVENTORY'], ['payments.events', 'PAYMENTS'], ['shipping.events', 'SHIPPING']];
  const loops: Promise<void>[] = [];
  for (const [subject, stream] of inbound) {
    const durable = `ref-${subject.replace(/\./g, '_')}`;
    await jsm.consumers.add(stream, { durable_name: durable, filter_subject: subject, ack_policy: AckPolicy.Explicit, max_ack_pending: 10_000 });
    const messages = await (await js.consumers.get(stream, durable)).consume({ max_messages: 256 });
    loops.push((async () => { for await (const m of messages) handle(m); })());
  }
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await nc.drain();
  db.close();
}

await main();
