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
