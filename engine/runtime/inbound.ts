import { createHash } from 'node:crypto';
import { setImmediate as yieldTurn, setTimeout as sleep } from 'node:timers/promises';
import { SagaError } from '../errors.js';
import { fault } from '../fault.js';
import { capped, messageFields, type LogFn } from '../log.js';
import type { DeadLetterReason } from '../metrics/registry.js';
import { isStoreUnavailable } from '../store/errors.js';
import { defaultInputLimits, type InputLimits } from '../json-bounds.js';
import { defaultDlqCap, type DeadLetterCap } from '../store/dlq.js';
import { trimDeadLetters } from './dead-letter-trim.js';
import type { StorePort } from '../store/port.js';
import type { InboundMessage, Verdict } from '../transport/consumer.js';
import { parseEnvelope } from '../transport/envelope.js';
import type { Engine } from './engine.js';
import { kindOf, LOG_INTERVAL_MS, throttledLog } from './log-throttle.js';
import { REDRIVE_HEADER } from './redrive.js';

/** Failures that redelivering cannot mend: the message is parked at once. */
const PERMANENT = new Set(['SAGA_ERR_INVALID_MESSAGE', 'SAGA_ERR_INVALID_INPUT', 'SAGA_ERR_CORRELATION_MISMATCH', 'SAGA_ERR_LATE_REPLY']);

/** Longest reason kept with a dead letter: a list of letters stays small whatever the failure said. */
const MAX_REASON = 2_000;

/** Bytes above which a message is read in a turn of the event loop of its own. */
const BIG_MESSAGE = 65_536;

/** Bounds of what comes in and of what the dead-letter queue keeps. */
export interface InboundOptions {
  /** Largest message and deepest JSON read; larger or deeper ones are parked at once. */
  readonly limits?: InputLimits;
  /** Dead letters kept at most; the oldest beyond are dropped, counted and logged. */
  readonly dlqCap?: DeadLetterCap;
  /**
   * Resolves true when a message may be handled now, false when it must not be (the SQLite
   * lease lost, or a drain while it was in doubt): it goes back to JetStream then, which
   * delivers it again whatever its count (the consumer's max_deliver is unlimited).
   */
  readonly admit?: () => Promise<boolean>;
}

export { defaultDlqCap };

/** Pure: a reason cut to {@link MAX_REASON} characters. */
function shortReason(reason: string): string {
  return reason.length <= MAX_REASON ? reason : `${reason.slice(0, MAX_REASON)}... (${reason.length} characters)`;
}

/**
 * Turns each message from a subscribed subject into one input of the engine, and the answer
 * into a verdict: ack once its effects are durable (DESIGN section 1, point 4); a message that
 * can never be processed, or that keeps failing until its last delivery, is parked in the
 * dead-letter queue with the reason and its raw bytes, then acked; anything else is
 * redelivered with backoff.
 *
 * A failing store (PostgreSQL unreachable, a full disk, an I/O error) is not the message's
 * fault: were it naked, each failure would use up one of its deliveries, and a store down for
 * longer than they last would drop it. It is held instead (the consumer keeps telling
 * JetStream it is in progress) and tried again after a pause; a drain lets it go back to
 * JetStream, and it comes back after the restart.
 */
/** The metric label of a permanent failure's dead letter. */
function reasonOf(code: string): DeadLetterReason {
  switch (code) {
    case 'SAGA_ERR_INVALID_INPUT': return 'invalid_input';
    case 'SAGA_ERR_CORRELATION_MISMATCH': return 'correlation_mismatch';
    case 'SAGA_ERR_LATE_REPLY': return 'late_reply';
    default: return 'invalid_message';
  }
}

/**
 * The handler of the messages of every subscribed subject, and `abandon`, which parks one
 * that the consumer will not hand to it again (its attempts never finished: consume.ts).
 */
export interface InboundHandler {
  (msg: InboundMessage): Promise<Verdict>;
  readonly abandon: (msg: InboundMessage, reason: string) => Promise<Verdict>;
}

export function inboundHandler(engine: Engine, store: StorePort, log: LogFn, opts: InboundOptions = {}): InboundHandler {
  const count = (outcome: string) => engine.counters.messages.inc({ outcome });
  const limits = opts.limits ?? defaultInputLimits;
  const cap = opts.dlqCap ?? defaultDlqCap;
  const once = throttledLog(log, LOG_INTERVAL_MS);

  /** Keeps the queue under its cap: the oldest letters go, counted and logged (once per interval). */
  const trim = (): Promise<void> => trimDeadLetters(store, cap, engine.counters, once);

  /** Runs `work` until the store lets it through (or sagad drains). */
  const despiteStore = async <T>(msg: InboundMessage, eventId: string | null, work: () => Promise<T>): Promise<T> => {
    for (let failures = 1; ; failures++) {
      try {
        return await work();
      } catch (err) {
        if (!isStoreUnavailable(err) || engine.draining) throw err;
        log('warn', 'the store failed; the message is held and tried again', {
          subject: msg.subject, ...(eventId === null ? {} : { eventId }), failures, error: err instanceof Error ? err.message : String(err), ...messageFields(msg.headers),
        });
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  };

  /**
   * Parks a message once: its delivery (subject, stream sequence, bytes) is remembered in the
   * inbox in the same transaction, so a redelivery after a crash before the ack is acked
   * without a second dead letter.
   */
  const park = async (msg: InboundMessage, eventId: string | null, reason: string, kind: DeadLetterReason): Promise<Verdict> => {
    const delivery = `dead-letter/${msg.subject}/${msg.streamSequence}/${createHash('sha256').update(msg.data).digest('hex').slice(0, 32)}`;
    const id = await despiteStore(msg, eventId, () => store.park({
      subject: msg.subject, reason: shortReason(reason), headers: msg.headers, data: msg.data, deliveryCount: msg.deliveryCount, at: Date.now(),
    }, delivery));
    fault('after-park-before-ack');
    if (id === null) return 'ack';
    count('dead_lettered');
    engine.counters.deadLettered.inc({ reason: kind });
    once('warn', 'message dead-lettered', `${msg.subject} ${kindOf(reason)}`, { subject: msg.subject, deadLetter: id, reason: shortReason(reason), ...messageFields(msg.headers) });
    // The letter is safe; a trim that fails is told, and tried again after the next park.
    await despiteStore(msg, eventId, trim).catch((err: unknown) => log('error', 'could not trim the dead-letter queue', { error: err instanceof Error ? err.message : String(err) }));
    return 'ack';
  };

  /**
   * Settles once the message handed over before the last one has been read and ordered
   * (`triggering`): a pull's messages are, in stream order, even when a big one waits a turn
   * of its own.
   */
  let entered: Promise<void> = Promise.resolve();
  const handle = async (msg: InboundMessage): Promise<Verdict> => {
    const before = entered;
    let enter!: () => void;
    entered = new Promise<void>((resolve) => { enter = resolve; });
    try {
      // Not even parked: a write while another process may hold the lease is what the lease prevents.
      if (opts.admit !== undefined && !(await opts.admit())) return 'nak';
      await before;
      // The consumer hands over a whole batch in one turn: a big message waits its own turn, so
      // a batch of them never holds the event loop long enough to miss NATS heartbeats.
      if (msg.data.byteLength > BIG_MESSAGE) await yieldTurn();
      // Called, not awaited: it is ordered (or parked) before it first waits.
      return handleEnvelope(msg);
    } finally {
      enter();
    }
  };
  /**
   * Per subject, settles once every trigger handed over on it so far has been handled, retries
   * after a store failure included. The consumer hands a pull's messages over all at once: an
   * event a wait step may await (OrderPaid) after the trigger that starts its instance
   * (OrderPlaced) would otherwise be read before the trigger's commit, find no instance,
   * neither waiting nor to keep it for, and be acked as unrelated. Such an event waits for the
   * triggers before it; triggers that no wait step awaits do not wait for each other, so
   * starts still share commits (`Engine.ordering`).
   */
  const triggering = new Map<string, Promise<void>>();
  const holdTriggered = (subject: string, handled: Promise<unknown>): void => {
    const ignore = (): void => undefined;
    const before = triggering.get(subject);
    const all: Promise<void> = (before === undefined ? handled : Promise.all([before, handled.catch(ignore)])).then(ignore, ignore);
    triggering.set(subject, all);
    void all.then(() => {
      if (triggering.get(subject) === all) triggering.delete(subject);
    });
  };
  const handleEnvelope = async (msg: InboundMessage): Promise<Verdict> => {
    const parsed = parseEnvelope(msg.data, limits);
    if (!parsed.ok) return park(msg, null, parsed.reason, 'not_envelope');
    const e = parsed.envelope;
    const order = engine.ordering(msg.subject, e.eventType);
    // Taken before a trigger registers itself: it waits for the triggers before it, not for itself.
    const after = order.follows ? triggering.get(msg.subject) : undefined;
    const handled = despiteStore(msg, e.eventId, async () => {
      if (after !== undefined) await after;
      return engine.receive({
        subject: msg.subject, eventId: e.eventId, eventType: e.eventType, correlationId: e.correlationId,
        causationId: e.causationId ?? '', aggregateId: e.aggregateId, version: e.version, payload: e.payload, envelope: e,
        trace: msg.headers, raw: { data: msg.data, headers: msg.headers },
      });
    });
    if (order.trigger) holdTriggered(msg.subject, handled);
    try {
      const outcome = await handled;
      count(outcome);
      const letter = msg.headers[REDRIVE_HEADER];
      // Anyone may publish the header: a flood of such messages is one line per outcome and interval.
      if (letter !== undefined && (outcome === 'duplicate' || outcome === 'unrelated')) {
        once('warn', 'a redriven dead letter changed nothing', outcome, {
          deadLetter: capped(letter), subject: msg.subject, eventId: e.eventId, outcome,
          why: outcome === 'duplicate'
            ? 'its eventId was processed before (an early event is recorded as processed when it arrives, and stays so when it expires)'
            : 'it concerns no saga now',
          ...messageFields(msg.headers),
        });
      }
      fault('after-commit-before-ack');
      return 'ack';
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (err instanceof SagaError && PERMANENT.has(err.code)) return park(msg, e.eventId, why, reasonOf(err.code));
      if (msg.lastAttempt) return park(msg, e.eventId, `failed on its last delivery (${msg.deliveryCount}): ${why}`, 'max_deliveries');
      once('warn', 'message failed; it will be redelivered', `${msg.subject} ${kindOf(why)}`, { subject: msg.subject, eventId: e.eventId, error: shortReason(why), ...messageFields(msg.headers) });
      return { nakDelayMs: Math.min(30_000, 500 * 2 ** msg.deliveryCount) };
    }
  };
  const abandon = async (msg: InboundMessage, reason: string): Promise<Verdict> => {
    if (opts.admit !== undefined && !(await opts.admit())) return 'nak';
    return park(msg, null, reason, 'max_deliveries');
  };
  return Object.assign(handle, { abandon });
}
