/**
 * A scripted participant for the end-to-end tests, run as its own process: inventory,
 * payments, shipping and couriers over NATS, with durable JetStream consumers on the command
 * subjects. Its behaviour is written in the orderId (see `directivesOf`); `<op>` below is the
 * short name of an operation (reserve, release, charge, refund, ship, courier, uncourier):
 *
 *   oos, decline, shipreject, nocourier   the business declines the step (OutOfStock, PaymentDeclined, ShipmentRejected, NoCourierAvailable)
 *   busyN                       ChargePayment attempts 1..N answer PaymentGatewayBusy, doing nothing
 *   dropreserve, dropcharge     the work is done but the reply to attempt 1 is not sent
 *   silent<op>                  the work is done (or the repeat recognised) but no reply is sent, until the flag file `<orderId>.<op>` exists
 *   dupreplies                  every reply is published three times: twice with the same eventId, once with a new one
 *   slow<op>N                   the work is done at once, its replies are sent N ms later (default 2000)
 *   hold<op>                    nothing is done and nothing answered until the flag file `<orderId>.<op>` exists
 *   refundfail                  RefundPayment does nothing and answers nothing until `<orderId>.refund` exists
 *   badreply                    before InventoryReserved, a schema-invalid InventoryReserved is published
 *   declineretry                a later ChargePayment attempt is declined at once (never slowed) as a suspected
 *                               duplicate, doing nothing: a gateway idempotent in its work but not in its answers
 *
 * A command whose payload has a string field `directives` (like `~oos~slowreserve300`) gets
 * those too, on top of its order's: one forEach element can be refused or slowed alone.
 *
 * It is idempotent by Idempotency-Key (the work of a key is done once; a repeat gets the same
 * answer) and refuses a `do` that arrives after its `undo`, as a careful service would. It is
 * not the judge: it appends every command it receives to a JSON-lines ledger (fsync) as a
 * fact, with what it answered, before the answer goes out, and `judge.ts` reads those facts.
 * Every command is also noted in RECEIVED (no fsync). Env: NATS_URL, LEDGER, RECEIVED,
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
import { DECIDING, directivesOf, flagName, readLedger } from './ledger.js';
import type { Effect, LedgerEntry } from './ledger.js';

interface Operation {
  action: 'do' | 'undo';
  /** The short name directives use (`slowcharge`, `holdship`) and the flag file's suffix. */
  short: Short;
  replySubject: string;
  success: string;
  failure?: string;
  busy?: string;
  /** The business refusal of a new `do` for this order, if any. */
  refuse?: (d: Directives) => string | undefined;
  result: (p: Record<string, unknown>, key: string, done?: Record<string, unknown>) => Record<string, unknown>;
}

type Short = 'reserve' | 'release' | 'charge' | 'refund' | 'ship' | 'courier' | 'uncourier';
type Directives = Map<string, number | null>;

const idOf = (prefix: string, key: string) => `${prefix}-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;

const operations: Record<string, Operation> = {
  ReserveInventory: {
    action: 'do', short: 'reserve', replySubject: 'inventory.events', success: 'InventoryReserved', failure: 'OutOfStock', busy: 'InventoryBusy',
    refuse: (d) => (d.has('oos') ? 'out of stock' : undefined),
    result: (p, key) => ({ orderId: p.orderId, reservationId: idOf('res', key) }),
  },
  ReleaseInventory: {
    action: 'undo', short: 'release', replySubject: 'inventory.events', success: 'InventoryReleased',
    result: (_p, _key, done) => ({ reservationId: done?.reservationId ?? null }),
  },
  ChargePayment: {
    action: 'do', short: 'charge', replySubject: 'payments.events', success: 'PaymentCharged', failure: 'PaymentDeclined', busy: 'PaymentGatewayBusy',
    refuse: (d) => (d.has('decline') ? 'card declined' : undefined),
    result: (p, key) => ({ orderId: p.orderId, paymentId: idOf('pay', key), amount: p.amount }),
  },
  RefundPayment: {
    action: 'undo', short: 'refund', replySubject: 'payments.events', success: 'PaymentRefunded',
    result: (p, _key, done) => ({ orderId: p.orderId, paymentId: done?.paymentId ?? null }),
  },
  ShipOrder: {
    action: 'do', short: 'ship', replySubject: 'shipping.events', success: 'OrderShipped', failure: 'ShipmentRejected',
    refuse: (d) => (d.has('shipreject') ? 'address not served' : undefined),
    result: (p, key) => ({ orderId: p.orderId, trackingNumber: idOf('trk', key) }),
  },
  BookCourier: {
    action: 'do', short: 'courier', replySubject: 'shipping.events', success: 'CourierBooked', failure: 'NoCourierAvailable',
    refuse: (d) => (d.has('nocourier') ? 'no courier available' : undefined),
    result: (p, key) => ({ orderId: p.orderId, courierId: idOf('cur', key) }),
  },
  CancelCourier: {
    action: 'undo', short: 'uncourier', replySubject: 'shipping.events', success: 'CourierCancelled',
    result: (p, _key, done) => ({ orderId: p.orderId, courierId: done?.courierId ?? null }),
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
      if (e.reply !== null) this.settle(base(e.key), e.action, e.effect, { eventType: e.reply, payload: e.payload });
    }
    this.fd = openSync(path, 'a');
  }

  slot(b: string): Slot {
    let s = this.slots.get(b);
    if (s === undefined) this.slots.set(b, (s = {}));
    return s;
  }

  /** The first deciding effect of a key fixes its answer for good (idempotency by key). */
  settle(b: string, action: 'do' | 'undo', effect: Effect, answer: Answer): void {
    const slot = this.slot(b);
    if (!DECIDING.includes(effect) || slot[action] !== undefined) return;
    slot[action] = { eventType: answer.eventType, payload: answer.payload, effect };
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

const SUSPECTED = 'suspected duplicate';

/**
 * The directives of a command: its order's, plus those of a `directives` payload field (like
 * `~oos`), which lets one forEach element ask for a behaviour the other elements of the same
 * order do not get.
 */
function directivesFor(cmd: Envelope): Map<string, number | null> {
  const own = cmd.payload.directives;
  return directivesOf(`${cmd.aggregateId}${typeof own === 'string' ? own : ''}`);
}

/** What the participant does with a command, before it is written down as a fact. */
interface Handling { effect: Effect; answer: Answer | null; reason?: string }

function handling(books: Books, controlDir: string, cmd: Envelope, key: string, attempt: number, op: Operation): Handling {
  const orderId = cmd.aggregateId;
  const d = directivesFor(cmd);
  const flagged = (what: string) => existsSync(join(controlDir, flagName(orderId, what)));
  // Held or failing operations do nothing at all until their flag file exists.
  if (op.short === 'refund' && d.has('refundfail') && !flagged('refund')) return { effect: 'held', answer: null, reason: 'refundfail' };
  if (d.has(`hold${op.short}`) && !flagged(op.short)) return { effect: 'held', answer: null, reason: `hold${op.short}` };

  const slot = books.slot(base(key));
  const prior = slot[op.action];
  if (op.action === 'do' && op.short === 'charge' && d.has('declineretry') && attempt > 1) {
    return { effect: 'declined', answer: { eventType: op.failure ?? op.success, payload: { orderId, reason: SUSPECTED } }, reason: SUSPECTED };
  }
  if (prior !== undefined) return { effect: 'duplicate', answer: { eventType: prior.eventType, payload: prior.payload } };
  if (op.action === 'undo') {
    const did = slot.do;
    if (did !== undefined && did.effect === 'done') return { effect: 'done', answer: { eventType: op.success, payload: op.result(cmd.payload, key, did.payload) } };
    return { effect: 'nothing-to-undo', answer: { eventType: op.success, payload: { ...op.result(cmd.payload, key), nothingToUndo: true } } };
  }
  if (slot.undo !== undefined) {
    return { effect: 'refused', answer: { eventType: op.failure ?? op.success, payload: { orderId, reason: 'undo came first' } }, reason: 'undo came first' };
  }
  const busyFor = op.short === 'charge' ? d.get('busy') : undefined;
  if (op.busy !== undefined && busyFor !== undefined && attempt <= (busyFor ?? 1)) return { effect: 'busy', answer: { eventType: op.busy, payload: { orderId } } };
  const refusal = op.refuse?.(d);
  if (refusal !== undefined && op.failure !== undefined) return { effect: 'declined', answer: { eventType: op.failure, payload: { orderId, reason: refusal } }, reason: refusal };
  return { effect: 'done', answer: { eventType: op.success, payload: op.result(cmd.payload, key) } };
}

function decide(books: Books, controlDir: string, cmd: Envelope, m: InboundMessage, op: Operation | undefined): Outcome {
  const key = header(m.headers, 'idempotency-key') ?? '';
  const sagaId = header(m.headers, 'saga-id') ?? '';
  const step = header(m.headers, 'saga-step') ?? '';
  const attempt = Number(header(m.headers, 'saga-attempt') ?? '0');
  const orderId = cmd.aggregateId;
  const d = directivesFor(cmd);
  const v: Handling = op === undefined ? { effect: 'ignored', answer: null, reason: 'not a command this participant serves' }
    : key === '' ? { effect: 'refused', answer: null, reason: 'no Idempotency-Key' }
      : handling(books, controlDir, cmd, key, attempt, op);
  const answer = v.answer;
  if (answer !== null) answer.eventId = uuidv7();

  const silent = answer === null
    || (op !== undefined && d.has(`silent${op.short}`) && !existsSync(join(controlDir, flagName(orderId, op.short))))
    || (attempt === 1 && ((op?.short === 'reserve' && d.has('dropreserve')) || (op?.short === 'charge' && d.has('dropcharge'))));
  const slow = op === undefined || v.reason === SUSPECTED ? undefined : d.get(`slow${op.short}`);
  const delayMs = silent || slow === undefined ? undefined : slow ?? 2_000;
  books.record({
    key, step, action: op?.action ?? (key.endsWith('/undo') ? 'undo' : 'do'), effect: v.effect, sagaId, attempt, orderId, command: cmd.eventType, commandId: cmd.eventId,
    reply: answer?.eventType ?? null, replyId: answer?.eventId ?? null, payload: answer?.payload ?? {},
    published: silent ? 'never' : delayMs === undefined ? 'now' : 'later',
    ...(delayMs === undefined ? {} : { delayMs }), ...(v.reason === undefined ? {} : { reason: v.reason }),
  });
  if (answer === null || op === undefined) return {};
  books.settle(base(key), op.action, v.effect, answer);
  if (silent) return {};
  const out: Outcome = { answer };
  if (delayMs !== undefined) out.delayMs = delayMs;
  if (op.short === 'reserve' && d.has('badreply') && answer.eventType === 'InventoryReserved') {
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
    const out = decide(books, controlDir, cmd, m, op);
    const answer = out.answer;
    if (answer === undefined || op === undefined) return 'ack';
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
