/**
 * A scripted participant for the end-to-end tests, run as its own process: inventory,
 * payments and shipping of order-fulfillment over NATS, with durable JetStream consumers on
 * the command subjects. Its behaviour is written in the orderId (see `directivesOf`):
 *
 *   oos, decline, shipreject    the business refuses the step (OutOfStock, PaymentDeclined, ShipmentRejected)
 *   busyN                       ChargePayment attempts 1..N answer PaymentGatewayBusy, doing nothing
 *   dropreserve, dropcharge     the work is done but the reply to attempt 1 is not sent
 *   silentreserve               the reservation is done but no reply is ever sent
 *   dupreplies                  every reply is published three times: twice with the same eventId, once with a new one
 *   slowchargeN                 the charge is done at once, its replies are sent N ms later (default 2000)
 *   holdcharge, holdship        nothing is done and nothing answered until the flag file `<orderId>.charge|ship` exists
 *   refundfail                  RefundPayment does nothing and answers nothing until `<orderId>.refund` exists
 *   badreply                    before InventoryReserved, a schema-invalid InventoryReserved is published
 *
 * It is idempotent by Idempotency-Key (same key: same answer, the work done once), refuses a
 * `do` that arrives after its `undo`, and appends every effect to a JSON-lines ledger (fsync)
 * before it answers; every command received is also noted in RECEIVED (no fsync), so tests can
 * check that every command sagad journaled reached it. Env: NATS_URL, LEDGER, RECEIVED,
 * CONTROL_DIR, PARTICIPANT_PREFIX.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../engine/log.js';
import { connectNats } from '../../engine/transport/connection.js';
import type { NatsLink } from '../../engine/transport/connection.js';
import { consume } from '../../engine/transport/consumer.js';
import type { InboundMessage, Subscription, Verdict } from '../../engine/transport/consumer.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import { uuidv7 } from '../../engine/ids.js';
import type { Envelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { ensureStreams } from '../../engine/transport/streams.js';
import { directivesOf, flagName, readLedger } from './ledger.js';
import type { Effect, LedgerEntry } from './ledger.js';

interface Operation {
  action: 'do' | 'undo';
  replySubject: string;
  success: string;
  failure?: string;
  busy?: string;
  /** The business refusal of a new `do` for this order, if any. */
  refuse?: (d: Directives) => string | undefined;
  result: (p: Record<string, unknown>, key: string, done?: Record<string, unknown>) => Record<string, unknown>;
}

type Directives = Map<string, number | null>;

const idOf = (prefix: string, key: string) => `${prefix}-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;

const operations: Record<string, Operation> = {
  ReserveInventory: {
    action: 'do', replySubject: 'inventory.events', success: 'InventoryReserved', failure: 'OutOfStock', busy: 'InventoryBusy',
    refuse: (d) => (d.has('oos') ? 'out of stock' : undefined),
    result: (p, key) => ({ orderId: p.orderId, reservationId: idOf('res', key) }),
  },
  ReleaseInventory: {
    action: 'undo', replySubject: 'inventory.events', success: 'InventoryReleased',
    result: (_p, _key, done) => ({ reservationId: done?.reservationId ?? null }),
  },
  ChargePayment: {
    action: 'do', replySubject: 'payments.events', success: 'PaymentCharged', failure: 'PaymentDeclined', busy: 'PaymentGatewayBusy',
    refuse: (d) => (d.has('decline') ? 'card declined' : undefined),
    result: (p, key) => ({ orderId: p.orderId, paymentId: idOf('pay', key), amount: p.amount }),
  },
  RefundPayment: {
    action: 'undo', replySubject: 'payments.events', success: 'PaymentRefunded',
    result: (p, _key, done) => ({ orderId: p.orderId, paymentId: done?.paymentId ?? null }),
  },
  ShipOrder: {
    action: 'do', replySubject: 'shipping.events', success: 'OrderShipped', failure: 'ShipmentRejected',
    refuse: (d) => (d.has('shipreject') ? 'address not served' : undefined),
    result: (p, key) => ({ orderId: p.orderId, trackingNumber: idOf('trk', key) }),
  },
};

const COMMAND_SUBJECTS = ['inventory.commands', 'payments.commands', 'shipping.commands'];
const REPLY_SUBJECTS = ['inventory.events', 'payments.events', 'shipping.events'];

interface Answer { eventType: string; payload: Record<string, unknown>; eventId?: string }
interface Slot { do?: Answer & { effect: Effect }; undo?: Answer & { effect: Effect } }

/** The participant's memory: one slot per `<sagaId>/<step>`, rebuilt from the ledger on start. */
class Books {
  private readonly slots = new Map<string, Slot>();
  private readonly fd: number;
  private seq = 0;

  constructor(readonly path: string) {
    for (const e of readLedger(path)) {
      this.seq = Math.max(this.seq, e.seq);
      if (e.effect !== 'duplicate') this.slot(base(e.key))[e.action] = { eventType: e.reply, payload: e.payload, effect: e.effect };
    }
    this.fd = openSync(path, 'a');
  }

  slot(b: string): Slot {
    let s = this.slots.get(b);
    if (s === undefined) this.slots.set(b, (s = {}));
    return s;
  }

  record(entry: Omit<LedgerEntry, 'seq' | 'at'>): void {
    const line: LedgerEntry = { seq: ++this.seq, at: new Date().toISOString(), ...entry };
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}

function base(key: string): string {
  return key.replace(/\/(do|undo)$/, '');
}

function header(headers: Record<string, string>, name: string): string | undefined {
  return Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
}

/** What handling one command decided: the answer to publish (if any), and when. */
interface Outcome { answer?: Answer; delayMs?: number; before?: Answer }

function decide(books: Books, controlDir: string, cmd: Envelope, m: InboundMessage, op: Operation): Outcome {
  const key = header(m.headers, 'idempotency-key');
  if (key === undefined) throw new Error(`${cmd.eventType} ${cmd.eventId} has no Idempotency-Key`);
  const sagaId = header(m.headers, 'saga-id') ?? '';
  const step = header(m.headers, 'saga-step') ?? '';
  const attempt = Number(header(m.headers, 'saga-attempt') ?? '0');
  const orderId = cmd.aggregateId;
  const d = directivesOf(orderId);
  const flag = (what: 'ship' | 'refund' | 'charge') => existsSync(join(controlDir, flagName(orderId, what)));
  const slot = books.slot(base(key));
  const write = (effect: Effect, answer: Answer, reason?: string) => {
    answer.eventId = uuidv7();
    books.record({
      key, step, action: op.action, effect, sagaId, attempt, orderId, command: cmd.eventType, commandId: cmd.eventId,
      reply: answer.eventType, replyId: answer.eventId, payload: answer.payload, ...(reason === undefined ? {} : { reason }),
    });
    if (effect !== 'duplicate') slot[op.action] = { eventType: answer.eventType, payload: answer.payload, effect };
  };

  // Held or failing operations do nothing at all until their flag file exists.
  if (cmd.eventType === 'RefundPayment' && d.has('refundfail') && !flag('refund')) return {};
  if (cmd.eventType === 'ShipOrder' && d.has('holdship') && !flag('ship')) return {};
  if (cmd.eventType === 'ChargePayment' && d.has('holdcharge') && !flag('charge')) return {};

  let answer: Answer;
  const prior = slot[op.action];
  if (prior !== undefined) {
    answer = { eventType: prior.eventType, payload: prior.payload };
    write('duplicate', answer);
  } else if (op.action === 'undo') {
    const did = slot.do;
    if (did?.effect === 'done') {
      answer = { eventType: op.success, payload: op.result(cmd.payload, key, did.payload) };
      write('done', answer);
    } else {
      answer = { eventType: op.success, payload: { ...op.result(cmd.payload, key), nothingToUndo: true } };
      write('nothing-to-undo', answer);
    }
  } else if (slot.undo !== undefined) {
    answer = { eventType: op.failure ?? op.success, payload: { orderId, reason: 'undo came first' } };
    write('refused', answer, 'undo came first');
  } else {
    const busyFor = cmd.eventType === 'ChargePayment' ? d.get('busy') : undefined;
    if (op.busy !== undefined && busyFor !== undefined && attempt <= (busyFor ?? 1)) {
      return { answer: { eventType: op.busy, payload: { orderId } } };
    }
    const refusal = op.refuse?.(d);
    if (refusal !== undefined && op.failure !== undefined) {
      answer = { eventType: op.failure, payload: { orderId, reason: refusal } };
      write('refused', answer, refusal);
    } else {
      answer = { eventType: op.success, payload: op.result(cmd.payload, key) };
      write('done', answer);
    }
  }

  if (cmd.eventType === 'ReserveInventory' && d.has('silentreserve')) return {};
  if (attempt === 1 && ((cmd.eventType === 'ReserveInventory' && d.has('dropreserve')) || (cmd.eventType === 'ChargePayment' && d.has('dropcharge')))) return {};
  const out: Outcome = { answer };
  if (cmd.eventType === 'ChargePayment' && d.has('slowcharge')) out.delayMs = d.get('slowcharge') ?? 2_000;
  if (cmd.eventType === 'ReserveInventory' && d.has('badreply') && answer.eventType === 'InventoryReserved') {
    out.before = { eventType: 'InventoryReserved', payload: { orderId } };
  }
  return out;
}

async function publishAnswer(link: NatsLink, subject: string, cmd: Envelope, answer: Answer, copies: boolean): Promise<void> {
  const envelope: Envelope = {
    eventId: answer.eventId ?? uuidv7(), eventType: answer.eventType, aggregateId: cmd.aggregateId, timestamp: new Date().toISOString(), version: 1,
    correlationId: cmd.correlationId, causationId: cmd.eventId, payload: answer.payload,
  };
  const bytes = encodeEnvelope(envelope);
  await publishEnvelope(link.js, subject, bytes, {}, envelope.eventId);
  if (!copies) return;
  // The same message again under another Nats-Msg-Id, so JetStream keeps it and sagad's inbox must drop it.
  await publishEnvelope(link.js, subject, bytes, {}, `${envelope.eventId}-again`);
  // And the same answer as a new message, as a participant that answers twice would send it.
  const fresh = { ...envelope, eventId: uuidv7() };
  await publishEnvelope(link.js, subject, encodeEnvelope(fresh), {}, fresh.eventId);
}

async function main(): Promise<void> {
  const log = createLogger('warn');
  const url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const ledger = process.env.LEDGER ?? './ledger.jsonl';
  const controlDir = process.env.CONTROL_DIR ?? '.';
  const received = process.env.RECEIVED ?? `${ledger}.received`;
  const books = new Books(ledger);
  const link = await connectNats({ url, name: 'e2e-participant', log });
  const streams = await ensureStreams(link.jsm, [...COMMAND_SUBJECTS, ...REPLY_SUBJECTS], 'create');
  const delayed = new Set<NodeJS.Timeout>();

  const handle = async (m: InboundMessage): Promise<Verdict> => {
    const parsed = parseEnvelope(m.data);
    if (!parsed.ok) {
      log('warn', 'not a command envelope; dropped', { subject: m.subject, reason: parsed.reason });
      return 'term';
    }
    const cmd = parsed.envelope;
    appendFileSync(received, `${JSON.stringify({ commandId: cmd.eventId, type: cmd.eventType, sagaId: header(m.headers, 'saga-id') ?? '', attempt: Number(header(m.headers, 'saga-attempt') ?? 0) })}\n`);
    const op = operations[cmd.eventType];
    if (op === undefined) return 'ack';
    const out = decide(books, controlDir, cmd, m, op);
    const answer = out.answer;
    if (answer === undefined) return 'ack';
    const copies = directivesOf(cmd.aggregateId).has('dupreplies');
    if (out.before !== undefined) await publishAnswer(link, op.replySubject, cmd, out.before, false);
    if (out.delayMs === undefined) {
      await publishAnswer(link, op.replySubject, cmd, answer, copies);
      return 'ack';
    }
    const timer = setTimeout(() => {
      delayed.delete(timer);
      publishAnswer(link, op.replySubject, cmd, answer, copies).catch((err: unknown) => log('error', 'delayed reply failed', { error: String(err) }));
    }, out.delayMs);
    delayed.add(timer);
    return 'ack';
  };

  const subs: Subscription[] = [];
  for (const subject of COMMAND_SUBJECTS) {
    subs.push(await consume(link, subject, handle, {
      stream: streams[subject] ?? '', durablePrefix: process.env.PARTICIPANT_PREFIX ?? 'e2e', expiresMs: 1_000, ackWaitMs: 10_000, log,
    }));
  }
  process.stderr.write('participant ready\n');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
    // The test process holds our stdin: when it dies, exit at once (the ledger is fsynced line by line).
    process.stdin.once('end', () => process.exit(0)).resume();
  });
  for (const t of delayed) clearTimeout(t);
  await Promise.all(subs.map((s) => s.stop()));
  await link.drain();
  books.close();
}

if (process.env.LEDGER === undefined || process.env.NATS_URL === undefined) {
  // `tap test/e2e` also runs this file as if it were a test: without its environment it does nothing.
  if (process.env.TAP !== '1') process.stderr.write('participant: set NATS_URL, LEDGER and CONTROL_DIR (the e2e tests spawn it)\n');
  process.exit(0);
}
main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`participant: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
