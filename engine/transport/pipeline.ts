import { createInbox, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { PubAck } from '@nats-io/jetstream';
import { headerBytes, TooLargeToPublish, type PublishItem, type PublishResult } from './publish.js';

/** JetStream's error code for a message over its stream's max_msg_size. */
const OVER_MAX_MSG_SIZE = 10054;

interface Waiting {
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (err: Error) => void;
  readonly subject: string;
  /** Bytes of the body, for the error when JetStream finds the message too large. */
  readonly size: number;
  readonly since: number;
}

/**
 * JetStream publishing for the outbox relay, many in flight at once: each message is a plain
 * publish whose reply subject is one token under a single inbox subscription, where its
 * PubAck (or JetStream's error) arrives. It is what `js.publish` does through a request per
 * message, without the request's per-message timer, promise plumbing and the Error nats.js
 * builds when it cancels a request that has already been answered (4% of sagad's CPU at
 * concurrency 100). Unanswered publishes fail after `timeoutMs` (checked every second).
 *
 * A message that can never be published fails with {@link TooLargeToPublish}: one over the
 * server's max_payload, which nats.js refuses to send (its headers are counted only then, off
 * the path of every other message), and one over its stream's max_msg_size, which JetStream
 * refuses to store.
 */
export class AckPipeline {
  private readonly prefix = `${createInbox()}.`;
  private readonly sub: Subscription;
  private readonly waiting = new Map<string, Waiting>();
  private readonly sweep: NodeJS.Timeout;
  private next = 0;

  constructor(private readonly nc: NatsConnection, private readonly timeoutMs = 30_000) {
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, m) => (err === null ? this.answer(m) : this.failAll(err)) });
    this.sweep = setInterval(() => this.expire(), 1000);
    this.sweep.unref();
  }

  /** Publishes every item at once; resolves with each one's PubAck or error, in input order. It never rejects. */
  publishAll(items: readonly PublishItem[]): Promise<PublishResult[]> {
    return Promise.all(items.map(async (it): Promise<PublishResult> => {
      try {
        return { ok: true, ack: await this.publish(it) };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
      }
    }));
  }

  /** Publishes one message with `Nats-Msg-Id` = msgId; resolves with its PubAck. */
  publish(it: PublishItem): Promise<PubAck> {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(it.headers)) if (k.toLowerCase() !== 'nats-msg-id') h.set(k, v);
    h.set('Nats-Msg-Id', it.msgId);
    const token = (this.next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.waiting.set(token, { resolve, reject, subject: it.subject, size: it.data.byteLength, since: Date.now() });
      try {
        this.nc.publish(it.subject, it.data, { reply: this.prefix + token, headers: h });
      } catch (err) {
        this.waiting.delete(token);
        const cause = err instanceof Error ? err : new Error(String(err));
        const max = this.nc.info?.max_payload;
        const size = it.data.byteLength + headerBytes(h);
        reject(max !== undefined && size > max ? new TooLargeToPublish(it.subject, size, 'max_payload', max, { cause }) : cause);
      }
    });
  }

  /** Stops listening; whatever is unanswered fails. */
  close(): void {
    clearInterval(this.sweep);
    this.sub.unsubscribe();
    this.failAll(new Error('the publisher was closed before JetStream answered'));
  }

  private answer(m: Msg): void {
    const token = m.subject.slice(this.prefix.length);
    const w = this.waiting.get(token);
    if (w === undefined) return; // answered after it timed out
    this.waiting.delete(token);
    if (m.headers?.code === 503) {
      w.reject(new Error(`no JetStream stream captures ${w.subject} (no responders)`));
      return;
    }
    let ack: Partial<PubAck> & { error?: { code?: number; err_code?: number; description?: string } };
    try {
      ack = m.json();
    } catch {
      w.reject(new Error(`JetStream answered a publish to ${w.subject} with something that is not JSON`));
      return;
    }
    if (ack.error?.err_code === OVER_MAX_MSG_SIZE) {
      w.reject(new TooLargeToPublish(w.subject, w.size, 'max_msg_size', null));
      return;
    }
    if (ack.error !== undefined) {
      w.reject(new Error(`JetStream refused a publish to ${w.subject}: ${ack.error.description ?? 'no description'} (${ack.error.err_code ?? ack.error.code ?? '?'})`));
      return;
    }
    if (typeof ack.stream !== 'string' || ack.stream === '' || typeof ack.seq !== 'number') {
      w.reject(new Error(`JetStream answered a publish to ${w.subject} without a stream and sequence`));
      return;
    }
    w.resolve({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true, domain: ack.domain ?? '' } as PubAck);
  }

  private expire(): void {
    const before = Date.now() - this.timeoutMs;
    for (const [token, w] of this.waiting) {
      if (w.since > before) break; // in the order they were sent
      this.waiting.delete(token);
      w.reject(new Error(`no PubAck for a publish to ${w.subject} within ${this.timeoutMs} ms`));
    }
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}
