import type { OutboxRow } from '../store/index.js';
import type { DeadLetterCap } from '../store/dlq.js';
import type { StorePort } from '../store/port.js';
import { messageFields, type LogFn } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { PublishResult, TooLargeToPublish } from '../transport/publish.js';
import { trimDeadLetters } from './dead-letter-trim.js';
import { LOG_INTERVAL_MS, throttledLog } from './log-throttle.js';

/** How the relay reports a row it parked: a log line, the dead-letter counters, and the queue's cap to trim to. */
export interface RelayDeadLetters {
  readonly log: LogFn;
  readonly counters: Pick<Metrics, 'deadLettered' | 'deadLettersDropped'>;
  readonly cap: DeadLetterCap;
}

/** What became of a row of a relay batch: published, failed (tried again), or parked as a dead letter (out of the outbox, never to be published). */
export type Outcome = PublishResult | { readonly ok: 'parked' };

/**
 * The outbox relay's way out for a row that can never be published, larger than NATS takes
 * (`TooLargeToPublish`: its max_payload, or its stream's max_msg_size): held in the outbox, it
 * would hold its instance's later rows back for ever, so it is parked in the dead-letter queue
 * instead and taken out of the outbox in the same transaction.
 */
export class OversizeParker {
  /** A line per subject every 10 s at most: a flood of oversized messages costs one line, with the rest counted. */
  private readonly warnOnce: ReturnType<typeof throttledLog> | undefined;

  constructor(
    private readonly source: Partial<Pick<StorePort, 'parkOutboxRow' | 'trimDead'>>,
    private readonly onError: (err: unknown) => void,
    private readonly deadLetters: RelayDeadLetters | undefined,
  ) {
    this.warnOnce = deadLetters === undefined ? undefined : throttledLog(deadLetters.log, LOG_INTERVAL_MS);
  }

  /**
   * Takes a row that can never be published out of the outbox and into the dead-letter queue,
   * so that its instance's later rows go on: `parked` once it is out (parked here, or gone
   * already: another replica parked it), a failure to try again when the store could not.
   */
  async park(r: OutboxRow, err: TooLargeToPublish): Promise<Outcome> {
    if (this.source.parkOutboxRow === undefined) return { ok: false, error: err };
    const reason = neverPublished(err);
    let id: string | null;
    try {
      id = await this.source.parkOutboxRow(r.seq, { subject: r.subject, reason, headers: r.headers, data: r.data, deliveryCount: 1, at: Date.now() });
    } catch (cause) {
      return { ok: false, error: new Error(`${err.message}; parking it as a dead letter failed, tried again: ${cause instanceof Error ? cause.message : String(cause)}`, { cause }) };
    }
    if (id !== null) await this.parked(r, err, id, reason);
    return { ok: 'parked' };
  }

  /** A row newly parked: told once, counted, and the queue kept under its cap as the inbound parks keep it. */
  private async parked(r: OutboxRow, err: TooLargeToPublish, id: string, reason: string): Promise<void> {
    const dl = this.deadLetters;
    if (dl === undefined || this.warnOnce === undefined) {
      this.onError(new Error(`not retried: dead letter ${id} (${messageFields(r.headers).instance ?? r.messageId}): ${reason}`, { cause: err }));
      return;
    }
    dl.counters.deadLettered.inc({ reason: 'too_large' });
    this.warnOnce('error', 'outgoing message dead-lettered: larger than NATS takes', r.subject, {
      deadLetter: id, subject: r.subject, messageId: r.messageId, size: err.size, limit: err.limit, maxBytes: err.maxBytes, ...messageFields(r.headers),
    });
    const source = this.source;
    if (source.trimDead === undefined) return;
    try {
      await trimDeadLetters(source as Pick<StorePort, 'trimDead'>, dl.cap, dl.counters, this.warnOnce);
    } catch (trimErr) {
      // The letter is safe; the next park tries the trim again.
      dl.log('error', 'could not trim the dead-letter queue', { error: trimErr instanceof Error ? trimErr.message : String(trimErr) });
    }
  }
}

/**
 * Pure: the reason a row that can never be published is parked with: what it is over, what
 * became of it, and what an operator can do.
 */
export function neverPublished(err: TooLargeToPublish): string {
  const raise = err.limit === 'max_payload'
    ? 'raise max_payload in the NATS server\'s configuration'
    : 'raise the stream\'s max_msg_size (nats stream edit <stream> --max-msg-size)';
  return `never published: ${err.message}. It was taken out of the outbox so that the instance's later messages go on; `
    + 'a step whose command this is never receives it and times out under its timeout and retry policy, as if its participant never answered '
    + `(each attempt is parked so). To publish such messages, ${raise}, or make the payload smaller (the definition's payload expression). `
    + 'A redrive publishes this letter as it is, and fails the same way until the limit is raised.';
}
