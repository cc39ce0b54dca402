import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';

/** One message for {@link AckPipeline.publishAll} (engine/transport/pipeline.ts). */
export interface PublishItem {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  msgId: string;
}

/** Outcome of one pipelined publish: the PubAck, or the error that prevented it. */
export type PublishResult = { ok: true; ack: PubAck } | { ok: false; error: Error };

/** The NATS limit a message is over: the server's `max_payload`, or the `max_msg_size` of the stream that captures its subject. */
export type SizeLimit = 'max_payload' | 'max_msg_size';

/**
 * A message larger than NATS takes, however often it is tried: over the server's max_payload
 * (nats.js refuses to send it), or over its stream's max_msg_size (JetStream refuses to store
 * it). Only raising that limit, or a smaller message, can change it.
 */
export class TooLargeToPublish extends Error {
  /** `size`: with the headers for max_payload; the body alone for max_msg_size. `maxBytes`: the limit, when known (max_payload). */
  constructor(readonly subject: string, readonly size: number, readonly limit: SizeLimit, readonly maxBytes: number | null, options?: ErrorOptions) {
    super(limit === 'max_payload'
      ? `${size} bytes (headers included) to ${subject} are more than the NATS server's max_payload of ${maxBytes ?? '?'} bytes`
      : `JetStream refused a body of ${size} bytes to ${subject}: more than the max_msg_size of the stream that captures it (10054)`, options);
    this.name = 'TooLargeToPublish';
  }
}

/** Pure: the bytes of `headers` as a NATS message carries them (`NATS/1.0`, a line per value, a blank line), as nats.js counts them against max_payload. */
export function headerBytes(headers: Iterable<readonly [string, readonly string[]]>): number {
  let n = 'NATS/1.0\r\n\r\n'.length;
  for (const [k, vs] of headers) for (const v of vs) n += Buffer.byteLength(k) + Buffer.byteLength(v) + 4;
  return n;
}

/** Options shared by the publish functions. */
export interface PublishOptions {
  /** Time to wait for the PubAck in ms (default: the JetStream client's timeout). */
  timeoutMs?: number;
}

/**
 * Publishes to JetStream with `Nats-Msg-Id` = msgId plus the given headers and resolves with the PubAck
 * (`duplicate` true when the stream already holds that id within its window); rejects when not acknowledged.
 */
export async function publishEnvelope(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array,
  headers: Record<string, string>,
  msgId: string,
  opts: PublishOptions = {},
): Promise<PubAck> {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(headers)) {
    // JetStream reads the id from its own option; a second copy in the headers would be redundant.
    if (k.toLowerCase() !== 'nats-msg-id') h.set(k, v);
  }
  return js.publish(subject, data, {
    msgID: msgId,
    headers: h,
    ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs }),
  });
}
