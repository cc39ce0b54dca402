import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, realpathSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { SagaError } from '../../engine/errors.js';
import { createLogger, isLogLevel } from '../../engine/log.js';
import { connectNats } from '../../engine/transport/connection.js';
import { silentLog } from '../../engine/log.js';
import type { LogFn } from '../../engine/log.js';
import { consume } from '../../engine/transport/consumer.js';
import type { Subscription } from '../../engine/transport/consumer.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import { uuidv7 } from '../../engine/ids.js';
import type { Envelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { ensureStreams } from '../../engine/transport/streams.js';

/** Behaviour switches of the demo, from `DEMO_*` variables. */
export interface Knobs {
  /** Share of orders (by a hash of orderId) whose payment is declined. */
  failRate: number;
  outOfStockRate: number;
  slowMs: number;
  /** Share of commands (by a hash of eventId) whose work is done but whose reply is never sent. */
  dropReplyRate: number;
  /** Share of new `do` commands answered with the retryable type, doing nothing. */
  busyRate: number;
}

/** One line of the ledger: what the participant actually did for an Idempotency-Key. */
export interface LedgerEntry {
  at: string;
  key: string;
  step: string;
  action: 'do' | 'undo';
  effect: 'done' | 'refused' | 'nothing-to-undo' | 'duplicate';
  sagaId: string;
  /** The answer given, so a repeated command gets the same one. */
  reply: { eventType: string; payload: Record<string, unknown> };
}

/** What handling one command produced: the ledger line (none for busy and unknown commands) and the reply to publish, if any. */
export interface Handled {
  entry?: LedgerEntry;
  reply?: { subject: string; envelope: Envelope };
  note: string;
}

interface Operation {
  action: 'do' | 'undo';
  replySubject: string;
  success: string;
  /** Terminal failure type of a `do`. */
  failure?: string;
  /** Retryable type of a `do`, when the definition has one. */
  busy?: string;
  /** A business refusal of a new `do`, or undefined to do it. */
  refuse?: (p: Record<string, unknown>, k: Knobs) => string | undefined;
  /** Success payload of a `do` (ids derived from the key, so they are stable) or of an `undo` (given the do's payload). */
  result: (p: Record<string, unknown>, key: string, done?: Record<string, unknown>) => Record<string, unknown>;
}

/** The command types of order-fulfillment (sagas/order-fulfillment.yaml), by type. */
const operations: Record<string, Operation> = {
  ReserveInventory: {
    action: 'do', replySubject: 'inventory.events', success: 'InventoryReserved', failure: 'OutOfStock', busy: 'InventoryBusy',
    refuse: (p, k) => (unitHash(`stock:${str(p.orderId)}`) < k.outOfStockRate ? 'out of stock' : undefined),
    result: (p, key) => ({ orderId: p.orderId, reservationId: `res-${hex(key)}`, items: p.items }),
  },
  ReleaseInventory: {
    action: 'undo', replySubject: 'inventory.events', success: 'InventoryReleased',
    result: (p, _key, done) => ({ reservationId: done?.reservationId ?? p.reservationId, orderId: done?.orderId }),
  },
  ChargePayment: {
    action: 'do', replySubject: 'payments.events', success: 'PaymentCharged', failure: 'PaymentDeclined', busy: 'PaymentGatewayBusy',
    refuse: (p, k) => (unitHash(`pay:${str(p.orderId)}`) < k.failRate ? 'card declined' : undefined),
    result: (p, key) => ({ orderId: p.orderId, paymentId: `pay-${hex(key)}`, amount: p.amount, currency: p.currency }),
  },
  RefundPayment: {
    action: 'undo', replySubject: 'payments.events', success: 'PaymentRefunded',
    result: (p, _key, done) => ({ orderId: p.orderId, paymentId: done?.paymentId ?? p.paymentId, amount: done?.amount ?? p.amount }),
  },
  ShipOrder: {
    action: 'do', replySubject: 'shipping.events', success: 'OrderShipped', failure: 'ShipmentRejected',
    result: (p, key) => ({ orderId: p.orderId, trackingNumber: `trk-${hex(key)}` }),
  },
};

/** The subjects the demo consumes. */
export const COMMAND_SUBJECTS = ['inventory.commands', 'payments.commands', 'shipping.commands'] as const;
/** The subjects the demo answers on. */
export const REPLY_SUBJECTS = ['inventory.events', 'payments.events', 'shipping.events'] as const;

/** A number in [0, 1) derived from `text` alone, so demo decisions are reproducible. */
export function unitHash(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0) / 2 ** 32;
}

/** Reads the DEMO_* knobs; throws SagaError SAGA_ERR_CONFIG listing every bad value. */
export function knobsFromEnv(env: NodeJS.ProcessEnv = process.env): Knobs {
  const problems: string[] = [];
  const num = (name: string, def: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return def;
    const v = Number(raw);
    if (Number.isFinite(v) && v >= 0 && v <= max) return v;
    problems.push(`${name}=${JSON.stringify(raw)}: must be a number from 0 to ${max}`);
    return def;
  };
  const knobs = {
    failRate: num('DEMO_FAIL_RATE', 0.2, 1), outOfStockRate: num('DEMO_OUT_OF_STOCK_RATE', 0.05, 1),
    slowMs: num('DEMO_SLOW_MS', 0, 3_600_000), dropReplyRate: num('DEMO_DROP_REPLY_RATE', 0, 1), busyRate: num('DEMO_BUSY_RATE', 0, 1),
  };
  if (problems.length > 0) throw new SagaError('SAGA_ERR_CONFIG', `invalid demo configuration: ${problems.join('; ')}`);
  return knobs;
}

/** The inventory, payments and shipping services in one: idempotent by Idempotency-Key, every effect fsynced to a JSON-lines ledger first. */
export class Participant {
  private readonly done = new Map<string, { do?: LedgerEntry; undo?: LedgerEntry }>();
  private readonly fd: number;

  /** Opens (creating it if needed) and replays the ledger; a torn last line from a crash is skipped. */
  constructor(readonly ledgerPath: string, readonly knobs: Knobs, private readonly log: LogFn = silentLog) {
    mkdirSync(dirname(ledgerPath), { recursive: true });
    this.fd = openSync(ledgerPath, 'a+');
    const lines = readFileSync(ledgerPath, 'utf8').split('\n').filter((l) => l.trim() !== '');
    for (const [i, line] of lines.entries()) {
      try {
        const e = JSON.parse(line) as LedgerEntry;
        if (e.effect !== 'duplicate') this.slot(baseOf(e.key))[e.action] = e;
      } catch {
        log('warn', 'ledger line unreadable; skipped', { ledger: ledgerPath, line: i + 1 });
      }
    }
  }

  /** Decides, records and answers one command; synchronous, so commands of the three services never interleave within it. */
  handle(cmd: Envelope, headers: Record<string, string>, now: Date = new Date()): Handled {
    const op = operations[cmd.eventType];
    if (op === undefined) return { note: `unknown command type ${cmd.eventType}; ignored` };
    const p = cmd.payload;
    const h = (name: string): string | undefined => Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
    // Without a key, the saga headers still tie an undo to its do; without those, nothing does.
    const key = h('idempotency-key') ?? `${h('saga-id') ?? cmd.eventId}/${h('saga-step') ?? cmd.eventType}/${op.action}`;
    const base = baseOf(key);
    const sagaId = h('saga-id') ?? base.split('/')[0] ?? '';
    const step = h('saga-step') ?? base.slice(base.lastIndexOf('/') + 1);
    const slot = this.slot(base);
    const record = (effect: LedgerEntry['effect'], eventType: string, payload: Record<string, unknown>, note: string): Handled => {
      const entry: LedgerEntry = { at: now.toISOString(), key, step, action: op.action, effect, sagaId, reply: { eventType, payload } };
      this.append(entry);
      if (effect !== 'duplicate') slot[op.action] = entry;
      const drop = unitHash(`drop:${cmd.eventId}`) < this.knobs.dropReplyRate;
      return { entry, note: drop ? `${note}; reply dropped` : note, ...(drop ? {} : { reply: this.reply(op.replySubject, cmd, eventType, payload, now) }) };
    };
    const prior = slot[op.action];
    if (prior !== undefined) return record('duplicate', prior.reply.eventType, prior.reply.payload, `repeated ${op.action}; same answer as before`);
    if (op.action === 'undo') {
      const did = slot.do;
      if (did?.effect === 'done') return record('done', op.success, op.result(p, key, did.reply.payload), 'undone');
      return record('nothing-to-undo', op.success, { ...op.result(p, key), nothingToUndo: true }, 'nothing to undo; a later do will be refused');
    }
    if (slot.undo !== undefined) return record('refused', op.failure ?? op.success, { orderId: p.orderId, reason: 'compensation already began' }, 'refused: undo came first');
    if (op.busy !== undefined && unitHash(`busy:${cmd.eventId}`) < this.knobs.busyRate) {
      return { note: 'busy; nothing done', reply: this.reply(op.replySubject, cmd, op.busy, { orderId: p.orderId }, now) };
    }
    const refusal = op.refuse?.(p, this.knobs);
    if (refusal !== undefined && op.failure !== undefined) return record('refused', op.failure, { orderId: p.orderId, reason: refusal }, `refused: ${refusal}`);
    return record('done', op.success, op.result(p, key), 'done');
  }

  /** Closes the ledger file. */
  close(): void {
    closeSync(this.fd);
  }

  private slot(base: string): { do?: LedgerEntry; undo?: LedgerEntry } {
    let s = this.done.get(base);
    if (s === undefined) this.done.set(base, (s = {}));
    return s;
  }

  private append(entry: LedgerEntry): void {
    writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    fsyncSync(this.fd);
  }

  private reply(subject: string, cmd: Envelope, eventType: string, payload: Record<string, unknown>, now: Date): { subject: string; envelope: Envelope } {
    const aggregateId = typeof payload.orderId === 'string' ? payload.orderId : cmd.aggregateId;
    return {
      subject,
      envelope: { eventId: uuidv7(), eventType, aggregateId, timestamp: now.toISOString(), version: 1, correlationId: cmd.correlationId, causationId: cmd.eventId, payload },
    };
  }
}

function baseOf(key: string): string {
  return key.replace(/\/(do|undo)$/, '');
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? '';
}

function hex(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** Runs the demo participants against NATS_URL until SIGTERM or SIGINT. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const log = createLogger(isLogLevel(env.SAGA_LOG_LEVEL) ? env.SAGA_LOG_LEVEL : 'info');
  const knobs = knobsFromEnv(env);
  const participant = new Participant(env.DEMO_LEDGER ?? './data/demo-ledger.jsonl', knobs, log);
  const url = env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const link = await connectNats({ url, name: 'sagad-demo-participants', log });
  const streams = await ensureStreams(link.jsm, [...COMMAND_SUBJECTS, ...REPLY_SUBJECTS], 'create');
  const subs: Subscription[] = [];
  for (const subject of COMMAND_SUBJECTS) {
    subs.push(await consume(link, subject, async (m) => {
      const parsed = parseEnvelope(m.data);
      if (!parsed.ok) {
        log('warn', 'not a command envelope; dropped', { subject, reason: parsed.reason });
        return 'term';
      }
      if (knobs.slowMs > 0) await delay(knobs.slowMs);
      const cmd = parsed.envelope;
      const out = participant.handle(cmd, m.headers);
      // Publishing after the ledger append: a failed publish naks, and the redelivery repeats the same answer.
      if (out.reply !== undefined) await publishEnvelope(link.js, out.reply.subject, encodeEnvelope(out.reply.envelope), {}, out.reply.envelope.eventId);
      log('info', `${cmd.eventType}: ${out.note}`, { command: cmd.eventType, eventId: cmd.eventId, key: out.entry?.key, effect: out.entry?.effect, reply: out.reply?.envelope.eventType ?? null });
      return 'ack';
    }, { stream: streams[subject] ?? '', durablePrefix: env.DEMO_NATS_PREFIX ?? 'demo', expiresMs: 2_000, log }));
  }
  log('info', 'demo participants ready', { nats: url, ledger: participant.ledgerPath, ...knobs });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log('info', 'stopping demo participants');
  await Promise.all(subs.map((s) => s.stop()));
  await link.drain();
  participant.close();
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  main().then(() => process.exit(0), (err: unknown) => {
    process.stderr.write(`demo participants: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
