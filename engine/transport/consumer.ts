import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { Consumer, ConsumerConfig, ConsumerMessages, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsLink } from './connection.js';
import type { LogFn } from '../log.js';
import { silentLog } from '../log.js';
import { TransportError, TransportErrorCode } from './errors.js';

/** A message as a handler sees it; `deliveryCount` starts at 1. */
export interface InboundMessage {
  subject: string;
  data: Uint8Array;
  /** First value of each header, keyed as sent. */
  headers: Record<string, string>;
  deliveryCount: number;
  redelivered: boolean;
  /** sagad's own limit of attempts (SAGA_MAX_DELIVER); JetStream's consumer has none. */
  maxDeliver: number;
  /**
   * True from delivery `maxDeliver` on: a failure now must park the message rather than ask
   * for another attempt. A delivery past `maxDeliver` is one whose last attempt never
   * finished (sagad stopped or crashed in it), handled again as the last attempt.
   */
  lastAttempt: boolean;
  streamSequence: number;
}

/** What to do with a handled message: ack, redeliver now, redeliver after a delay, or never redeliver. */
export type Verdict = 'ack' | 'nak' | 'term' | { nakDelayMs: number };
/** Processes one message; the message is acked (or not) only after the returned promise settles. */
export type Handler = (msg: InboundMessage) => Promise<Verdict>;

/** Options of {@link consume}. */
export interface ConsumeOptions {
  /** Stream that captures the subject (see ensureStreams). */
  stream: string;
  /** Prefix of the durable name (default `sagad`). */
  durablePrefix?: string;
  /** Messages requested per pull (default 100); all must be handled within `ackWaitMs`. */
  batchSize?: number;
  ackWaitMs?: number;
  /**
   * Attempts at a message (default 5), counted by sagad: the consumer itself redelivers without
   * limit, so a last attempt that never finished is not lost (see {@link UNFINISHED_DELIVERIES}).
   */
  maxDeliver?: number;
  /**
   * Called, instead of the handler, with a delivery numbered above `maxDeliver` +
   * {@link UNFINISHED_DELIVERIES}, and a reason: it should park the message. Unset, or when
   * it fails, the message is held back in JetStream for {@link ABANDONED_HOLD_MS} and offered again.
   */
  onAbandoned?: (msg: InboundMessage, reason: string) => Promise<Verdict>;
  /** First delay after a handler error, doubled per attempt up to 30 s (default 1000 ms). */
  errorNakDelayMs?: number;
  /**
   * Messages handed to the handler before the first of them settled (default 1: one at a
   * time). Handlers are always called in stream order; acks follow each handler's promise.
   */
  concurrency?: number;
  /** Lifetime of each pull request in ms (default 5000, at least 1000); stop() may wait this long. */
  expiresMs?: number;
  /**
   * Bytes one pull should bring at most: each pull asks for as many messages as the previous
   * pull's average size fits in it (at most `batchSize`, at least 1, 16 for the first), so a
   * flood of big messages is not held in memory 256 at a time. Unset: always `batchSize`.
   */
  maxBytes?: number;
  /**
   * Called when the stream itself is gone (NATS restarted without its JetStream store, or
   * someone deleted it): sets the streams up again, and resolves with the stream that now
   * captures the subject (when it has another name), on which the consumer is recreated.
   */
  onStreamMissing?: () => Promise<string | undefined>;
  log?: LogFn;
}

/**
 * Deliveries after the last attempt (delivery `maxDeliver`) that are still handled, as the
 * last attempt again, because the earlier one never finished. A delivery numbered above
 * `maxDeliver` + this is not handled at all but abandoned (`onAbandoned`): a message whose
 * handling crashes sagad every time must not keep crashing it.
 */
export const UNFINISHED_DELIVERIES = 3;

/** How long an abandoned message that could not be parked is held back before it is offered again. */
export const ABANDONED_HOLD_MS = 5 * 60_000;

/** A running subscription of a durable pull consumer. */
export interface Subscription {
  readonly durable: string;
  /** Stops pulling, naks messages fetched but not yet handled, and resolves once the handler in flight has finished. */
  stop(): Promise<void>;
  /** Messages not yet delivered plus those delivered and not acked (for lag metrics). */
  pending(): Promise<number>;
}

/** The durable consumer name for a subject: prefix and subject with `*`, `>` and other invalid characters replaced. */
export function durableNameFor(prefix: string, subject: string): string {
  return `${prefix}-${subject}`.replace(/\*/g, 'any').replace(/>/g, 'all').replace(/[^A-Za-z0-9_-]/g, '_');
}

/**
 * Creates the durable pull consumer for one subject, or updates its ack wait and max deliver
 * in place (it keeps its position); fails if the name is taken by another filter. Its
 * max_deliver is -1, unlimited: JetStream never redelivers a message after its max_deliver-th
 * delivery, so one whose last delivery was lost (a crash, a drain) would be lost with it.
 * sagad counts the attempts itself ({@link consume}); a consumer made by an older sagad with
 * a finite max_deliver is updated.
 */
export async function ensureConsumer(
  jsm: JetStreamManager, stream: string, subject: string,
  opts: Pick<ConsumeOptions, 'durablePrefix' | 'ackWaitMs' | 'log'> = {},
): Promise<string> {
  const durable = durableNameFor(opts.durablePrefix ?? 'sagad', subject);
  const want = { ack_wait: (opts.ackWaitMs ?? 30_000) * 1_000_000, max_deliver: -1 };
  try {
    const info = await jsm.consumers.info(stream, durable);
    if (info.config.filter_subject !== subject) {
      throw new TransportError(TransportErrorCode.ConsumerSetup,
        `consumer ${durable} on stream ${stream} filters ${info.config.filter_subject ?? '(nothing)'}, not ${subject}; delete it or choose another prefix`);
    }
    if (info.config.ack_wait !== want.ack_wait || info.config.max_deliver !== want.max_deliver) {
      await jsm.consumers.update(stream, durable, want);
      opts.log?.('info', 'consumer updated', { stream, durable, ...want });
    }
    return durable;
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
  }
  const config: Partial<ConsumerConfig> = {
    durable_name: durable, filter_subject: subject, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ...want,
  };
  await jsm.consumers.add(stream, config);
  opts.log?.('info', 'consumer created', { stream, durable, subject });
  return durable;
}

/** Consumes a subject through its durable pull consumer, one message at a time, until stopped; it survives handler errors and reconnects. */
export async function consume(
  link: Pick<NatsLink, 'nc' | 'js' | 'jsm'>, subject: string, handler: Handler, opts: ConsumeOptions,
): Promise<Subscription> {
  const { nc, js, jsm } = link;
  const log = opts.log ?? silentLog;
  // The stream that captures the subject; another after the streams were set up again (onStreamMissing).
  let { stream } = opts;
  const ackWaitMs = opts.ackWaitMs ?? 30_000;
  const maxDeliver = opts.maxDeliver ?? 5;
  const errorDelay = opts.errorNakDelayMs ?? 1_000;
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const durable = await ensureConsumer(jsm, stream, subject, opts);
  let stopping = false;
  let batch: ConsumerMessages | undefined;
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => { wake = resolve; });

  /** A message whose last attempts never finished: parked (`onAbandoned`) without being handled, or held back. */
  const abandon = async (inbound: InboundMessage): Promise<Verdict> => {
    const reason = `delivered ${inbound.deliveryCount} times and its handling never finished (sagad stopped, crashed or failed while handling it; `
      + `at most ${maxDeliver} attempts, and ${UNFINISHED_DELIVERIES} more when the last one did not finish); parked without handling it again`;
    if (opts.onAbandoned !== undefined) return opts.onAbandoned(inbound, reason);
    log('error', 'message abandoned: its handling never finished; it is held in JetStream and offered again later', {
      subject, seq: inbound.streamSequence, deliveryCount: inbound.deliveryCount, holdMs: ABANDONED_HOLD_MS,
    });
    return { nakDelayMs: ABANDONED_HOLD_MS };
  };

  const handleOne = async (m: JsMsg): Promise<void> => {
    const count = m.info.deliveryCount;
    const inbound: InboundMessage = {
      subject: m.subject, data: m.data, headers: headerRecord(m), deliveryCount: count,
      redelivered: m.redelivered, maxDeliver, lastAttempt: maxDeliver > 0 && count >= maxDeliver, streamSequence: m.seq,
    };
    const abandoned = maxDeliver > 0 && count > maxDeliver + UNFINISHED_DELIVERIES;
    // Keep a slow handler's message from being redelivered under it.
    const keepAlive = setInterval(() => { try { m.working(); } catch { /* closed; redelivery will follow */ } }, Math.max(500, ackWaitMs / 2));
    let verdict: Verdict;
    try {
      verdict = abandoned ? await abandon(inbound) : await handler(inbound);
    } catch (err) {
      // The consumer redelivers without limit: a failed last attempt comes back as the last attempt again.
      verdict = { nakDelayMs: abandoned ? ABANDONED_HOLD_MS : Math.min(30_000, errorDelay * 2 ** (count - 1)) };
      const what = abandoned ? 'could not park an abandoned message; it is held and offered again later'
        : inbound.lastAttempt ? 'handler failed on the last attempt; the message will be delivered again' : 'handler failed; message will be redelivered';
      log(inbound.lastAttempt ? 'error' : 'warn', what, { subject, seq: m.seq, deliveryCount: count, error: err instanceof Error ? err.message : String(err) });
    } finally {
      clearInterval(keepAlive);
    }
    try {
      if (verdict === 'ack') m.ack();
      else if (verdict === 'nak') m.nak();
      else if (verdict === 'term') m.term(); // no reason: nats-server 2.9 does not parse "+TERM <reason>"
      else m.nak(verdict.nakDelayMs);
    } catch (err) {
      log('warn', 'could not acknowledge message; it will be redelivered', { subject, seq: m.seq, error: String(err) });
    }
  };

  const expires = opts.expiresMs ?? 5_000;
  const batchSize = opts.batchSize ?? 100;
  let pull = opts.maxBytes === undefined ? batchSize : Math.min(batchSize, 16);
  const run = async (): Promise<void> => {
    let consumer: Consumer | undefined;
    for (let failures = 0; !stopping;) {
      const held: JsMsg[] = [];
      const began = Date.now();
      let received = 0;
      let bytes = 0;
      try {
        consumer ??= await js.consumers.get(stream, await ensureConsumer(jsm, stream, subject, opts));
        batch = await consumer.fetch({ max_messages: pull, expires });
        void watchStatus(batch, log, subject);
        const inFlight: Promise<void>[] = [];
        for await (const m of batch) {
          received += 1;
          bytes += m.data.byteLength;
          if (stopping) {
            held.push(m);
            continue;
          }
          // Handlers are called in stream order; with concurrency > 1 they overlap (the
          // runtime serialises them itself and commits them together).
          inFlight.push(handleOne(m));
          if (inFlight.length >= concurrency) await inFlight.shift();
        }
        await Promise.all(inFlight);
        if (opts.maxBytes !== undefined && received > 0) pull = Math.max(1, Math.min(batchSize, Math.floor(opts.maxBytes / Math.max(1, bytes / received))));
        // A pull that ends at once with nothing is a failure in disguise; don't spin on it.
        failures = received === 0 && Date.now() - began < 500 ? failures + 1 : 0;
      } catch (err) {
        consumer = undefined; // look it up (and recreate it if it was lost) before the next pull
        failures += 1;
        if (!stopping) log('warn', 'consumer interrupted; retrying', { subject, durable, error: err instanceof Error ? err.message : String(err) });
        if (!stopping && err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound && opts.onStreamMissing !== undefined) {
          stream = await opts.onStreamMissing().then((now) => {
            failures = 1; // set up again: the consumer is made again after a short pause, not a long one
            return now ?? stream;
          }, (e: unknown) => {
            log('warn', 'could not set the streams up again; retrying', { subject, stream, error: e instanceof Error ? e.message : String(e) });
            return stream;
          });
        }
      } finally {
        // The pull request has ended, so a nak now hands these to the next pull instead of back to this one.
        // The consumer's max_deliver is unlimited, so a nak never makes JetStream give up on one.
        for (const m of held) nakQuietly(m);
      }
      if (failures > 0 && !stopping) {
        await sleepUnless(stopped, Math.min(10_000, 250 * 2 ** Math.min(failures, 6)));
      }
    }
  };
  const done = run();

  return {
    durable,
    async stop() {
      stopping = true;
      wake();
      // JetStream 2.9 cannot cancel a pull request, so wait for it to expire; force it only if that takes too long (disconnected).
      const force = setTimeout(() => void batch?.close(), expires + 2_000);
      await done;
      clearTimeout(force);
      // Acks are fire-and-forget; push them out before the caller closes the connection.
      await flushQuietly(nc);
    },
    async pending() {
      const info = await jsm.consumers.info(stream, durable);
      return info.num_pending + info.num_ack_pending;
    },
  };
}

async function watchStatus(messages: ConsumerMessages, log: LogFn, subject: string): Promise<void> {
  for await (const s of messages.status()) {
    if (s.type === 'heartbeats_missed' || s.type === 'consumer_deleted' || s.type === 'consumer_not_found' || s.type === 'stream_not_found') {
      log('warn', `consumer ${s.type.replace(/_/g, ' ')}`, { subject });
    }
  }
}

function nakQuietly(m: JsMsg): void {
  try {
    m.nak();
  } catch {
    // connection closed: the message comes back after ack_wait
  }
}

async function flushQuietly(nc: NatsConnection): Promise<void> {
  // While disconnected a flush waits for the reconnect; unflushed acks only mean redeliveries, which the inbox tolerates.
  if (!nc.isClosed()) await sleepUnless(nc.flush().catch(() => undefined), 2_000);
}

async function sleepUnless(event: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([event, new Promise((r) => { timer = setTimeout(r, ms); })]);
  clearTimeout(timer);
}

function headerRecord(m: JsMsg): Record<string, string> {
  const out: Record<string, string> = {};
  if (m.headers === undefined) return out;
  for (const k of m.headers.keys()) out[k] = m.headers.get(k);
  return out;
}
