import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { AckPolicy, jetstreamManager, StorageType, type JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { uuidv7 } from '../engine/ids.js';
import { encodeEnvelope, type Envelope } from '../engine/transport/envelope.js';
import { openRefStore, type RefStore, type Row, type Write } from './reference-store.js';
import { SUBJECTS, envelope, link } from './wire.js';

/**
 * The reference loop: what this machine does with the same parts and no framework. Per input
 * (a start, by `OrderPlaced` on a durable pull consumer or by `POST
 * /v1/sagas/order-fulfillment/instances`, or a participant's reply): append an event row and
 * upsert the saga's state row, then publish the next command to JetStream. Inputs are made
 * durable in groups (`REF_MODE=grouped`, the default): everything that arrived while the
 * previous commit ran goes into one transaction, one fsync; each input is acknowledged only
 * after its commit (a reply acked once its command's publish is acknowledged too, an HTTP
 * start answered 201). `REF_MODE=per-commit` commits every input on its own (one fsync per
 * input), the loop of earlier benches, kept for context. `REF_DB` is a SQLite file (WAL,
 * synchronous=FULL) or a postgres:// URL. Same 3-step saga and compensation order as
 * sagas/order-fulfillment.yaml; sagas keyed by correlationId; the live rows are kept in
 * memory (this loop is their only writer). No inbox, no outbox, no timers, no schema checks:
 * a floor, not a competitor.
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

interface Out { subject: string; env: Envelope; headers: Record<string, string> }

/** One input waiting for its commit; `done` runs after it with the message to publish (or null). */
interface Input {
  readonly start: boolean;
  readonly env: Envelope;
  done(out: Out | null): void;
}

/** Decides one input against its saga row; returns the new row and the message to publish, or null to ignore it. */
function decide(row: Row | undefined, start: boolean, e: Envelope): { row: Row; out: Out } | null {
  const command = (id: string, spec: { name: string; subject: string; type: string }, undo: boolean, input: Record<string, unknown>): Out => {
    const env = envelope(spec.type, String(input.orderId), e.correlationId, e.eventId, { orderId: input.orderId, step: spec.name });
    return { subject: spec.subject, env, headers: { 'Saga-Id': id, 'Saga-Step': spec.name, 'Idempotency-Key': `${id}/${spec.name}/${undo ? 'undo' : 'do'}` } };
  };
  const end = (id: string, type: string): Out => ({ subject: SUBJECTS.lifecycle, env: envelope(type, id, id, e.eventId, {}), headers: { 'Saga-Id': id } });
  if (start) {
    if (row !== undefined) return null;
    const id = e.correlationId;
    const out = command(id, FORWARD[0], false, e.payload);
    return { row: { id, step: 0, status: 'running', version: 1, last_command: out.env.eventId, data: JSON.stringify({ input: e.payload }) }, out };
  }
  if (row === undefined || row.last_command !== e.causationId) return null; // unrelated or a duplicate
  const data = JSON.parse(row.data) as { input: Record<string, unknown> };
  const next = (step: number, status: string, out: Out): { row: Row; out: Out } =>
    ({ row: { ...row, step, status, version: row.version + 1, last_command: out.env.eventId, data: JSON.stringify({ ...data, [`r${row.step}`]: e.payload }) }, out });
  const back = () => {
    const undo = UNDO[row.step - 1];
    return undo === undefined ? next(-1, 'compensated', end(row.id, 'SagaCompensated')) : next(row.step - 1, 'compensating', command(row.id, undo, true, data.input));
  };
  if (row.status === 'running') {
    if (FAILURES.has(e.eventType)) return back();
    const fwd = FORWARD[row.step + 1];
    return fwd === undefined ? next(row.step, 'completed', end(row.id, 'SagaCompleted')) : next(row.step + 1, 'running', command(row.id, fwd, false, data.input));
  }
  return row.status === 'compensating' ? back() : null;
}

/**
 * The commit loop: inputs queue while a commit runs; the next commit takes all of them
 * (grouped) or each on its own (per-commit). Decisions are made in arrival order against the
 * rows in memory, so two inputs of one saga in one group see each other.
 */
function committer(store: RefStore, grouped: boolean): (input: Input) => void {
  const rows = new Map<string, Row>();
  let queue: Input[] = [];
  let running = false;
  const commitGroup = async (group: readonly Input[]): Promise<void> => {
    const outs: (Out | null)[] = [];
    const writes: Write[] = [];
    const at = Date.now();
    for (const i of group) {
      const d = decide(rows.get(i.env.correlationId), i.start, i.env);
      outs.push(d?.out ?? null);
      if (d === null) continue;
      if (d.row.status === 'completed' || d.row.status === 'compensated') rows.delete(d.row.id);
      else rows.set(d.row.id, d.row);
      writes.push({ type: i.env.eventType, at, payload: JSON.stringify(i.env.payload), row: d.row });
    }
    if (writes.length > 0) await store.commit(writes);
    group.forEach((i, k) => i.done(outs[k] ?? null));
  };
  const drain = async (): Promise<void> => {
    running = true;
    try {
      while (queue.length > 0) {
        const taken = queue;
        queue = [];
        if (grouped) await commitGroup(taken);
        else for (const i of taken) await commitGroup([i]);
      }
    } catch (err) {
      process.stderr.write(`reference loop: commit failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exit(1);
    }
    running = false;
  };
  return (input) => {
    queue.push(input);
    // The first input of an idle loop waits for the end of this event-loop turn, so that
    // whatever else arrived in the same turn joins its group.
    if (!running) {
      running = true;
      setImmediate(() => void drain());
    }
  };
}

/** Reads a JSON body; resolves undefined when it is not JSON. */
async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const store = await openRefStore(process.env.REF_DB ?? './data/reference.db');
  const submit = committer(store, process.env.REF_MODE !== 'per-commit');

  const { nc, js } = await link(natsUrl, 'bench-reference');
  const publish = (out: Out): Promise<unknown> => {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(out.headers)) h.set(k, v);
    return js.publish(out.subject, encodeEnvelope(out.env), { msgID: out.env.eventId, headers: h });
  };
  const jsm = await jetstreamManager(nc);
  const streams = { ORDERS: 'orders.>', INVENTORY: 'inventory.>', PAYMENTS: 'payments.>', SHIPPING: 'shipping.>', SAGAS: SUBJECTS.lifecycle };
  for (const [name, subject] of Object.entries(streams)) {
    await jsm.streams.add({ name, subjects: [subject], storage: StorageType.File, duplicate_window: 120_000_000_000 });
  }
  const decoder = new TextDecoder();
  const handle = (m: JsMsg): void => {
    const env = JSON.parse(decoder.decode(m.data)) as Envelope;
    const start = m.subject === SUBJECTS.start;
    if (start && env.eventType !== 'OrderPlaced') {
      m.ack();
      return;
    }
    submit({ start, env, done: (out) => { if (out === null) m.ack(); else publish(out).then(() => m.ack(), () => m.nak(100)); } });
  };
  const inbound: [string, string][] = [[SUBJECTS.start, 'ORDERS'], ['inventory.events', 'INVENTORY'], ['payments.events', 'PAYMENTS'], ['shipping.events', 'SHIPPING']];
  const loops: Promise<void>[] = [];
  for (const [subject, stream] of inbound) {
    const durable = `ref-${subject.replace(/\./g, '_')}`;
    await jsm.consumers.add(stream, { durable_name: durable, filter_subject: subject, ack_policy: AckPolicy.Explicit, max_ack_pending: 10_000 });
    const messages = await (await js.consumers.get(stream, durable)).consume({ max_messages: 256 });
    loops.push((async () => { for await (const m of messages) handle(m); })());
  }

  // POST /v1/sagas/order-fulfillment/instances {input, correlationId?}: 201 once committed.
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const reply = (status: number, doc: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    if (req.method !== 'POST' || req.url !== '/v1/sagas/order-fulfillment/instances') return void reply(404, { error: 'not found' });
    void body(req).then((b) => {
      const doc = b as { input?: Record<string, unknown>; correlationId?: string } | undefined;
      if (doc?.input === undefined) {
        reply(400, { error: 'input required' });
        return;
      }
      const id = doc.correlationId ?? uuidv7();
      const env = envelope('StartRequested', id, id, null, doc.input);
      submit({
        start: true, env,
        done: (out) => {
          if (out === null) {
            reply(200, { id, created: false });
            return;
          }
          reply(201, { id, status: 'running' });
          publish(out).catch(() => undefined);
        },
      });
    });
  });
  const port = Number(process.env.REF_HTTP_PORT ?? 0);
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  http.close();
  await nc.drain();
  await store.close();
}

await main();
