/**
 * A small world for the tracing and reload tests: a real nats-server, a definitions file of
 * one two-step saga, and a participant in this process that answers commands as a script
 * says (or holds them), optionally inside a span of its own that continues the command's
 * `traceparent` and is sent back on the reply.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectNats, type NatsLink } from '../../engine/transport/connection.js';
import { encodeEnvelope, parseEnvelope, type Envelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { ensureStreams } from '../../engine/transport/streams.js';
import { uuidv7 } from '../../engine/ids.js';
import { silentLog } from '../../engine/log.js';

/** A saga `traced`: reserve then charge, each compensated; started by `Begin` on tr.events or by API. */
export function tracedDefinitions(dir: string, opts: { name?: string; reserveTimeout?: string; extra?: string } = {}): string {
  const { name = 'traced.yaml', reserveTimeout = '20s', extra = '' } = opts;
  const file = join(dir, name);
  writeFileSync(file, `version: 1
sagas:
  - name: traced
    start:
      on: { subject: tr.events, type: Begin }
    timeout: 5m
    defaults:
      timeout: 20s
      retry: { maxAttempts: 3, initialInterval: 50ms, backoffRate: 2, maxInterval: 200ms, jitter: none }
    steps:
      - name: reserve
        command: { subject: tr.commands, type: Reserve, payload: { order: "{% $input.order %}" } }
        reply: { subject: tr.replies, success: [Reserved], failure: [NoStock], retryable: [Busy] }
        timeout: ${reserveTimeout}
        compensate:
          command: { subject: tr.commands, type: Release, payload: { order: "{% $input.order %}" } }
          reply: { subject: tr.replies, success: [Released] }
      - name: charge
        command: { subject: tr.commands, type: Charge, payload: { order: "{% $input.order %}" } }
        reply: { subject: tr.replies, success: [Charged], failure: [Declined] }
        compensate:
          command: { subject: tr.commands, type: Refund, payload: { order: "{% $input.order %}" } }
          reply: { subject: tr.replies, success: [Refunded] }
${extra}`);
  return file;
}

/** A command the participant received: its envelope and headers. */
export interface SeenCommand {
  readonly envelope: Envelope;
  readonly headers: Record<string, string>;
  /** Where its reply goes: `<prefix>.replies`. */
  readonly replySubject: string;
}

/** What to answer to a command: a reply type (and payload), or null to hold it unanswered. */
export type Script = (c: SeenCommand) => { type: string; payload?: Record<string, unknown> } | null;

/** Runs around each answer: returns the headers to put on the reply (a participant span's traceparent). */
export type AroundReply = (c: SeenCommand) => Record<string, string>;

/** The participant: every command seen, and a way to answer a held one later. */
export interface Participant {
  readonly link: NatsLink;
  readonly seen: SeenCommand[];
  answer(c: SeenCommand, type: string, headers?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

/** Subscribes (core NATS) to `<prefix>.commands` and answers on `<prefix>.replies` through JetStream, for each prefix. */
export async function startParticipant(natsUrl: string, script: Script, around?: AroundReply, prefixes: readonly string[] = ['tr']): Promise<Participant> {
  const link = await connectNats({ url: natsUrl, name: 'participant', log: silentLog });
  await ensureStreams(link.jsm, prefixes.flatMap((p) => [`${p}.commands`, `${p}.replies`, `${p}.events`]), 'create');
  const seen: SeenCommand[] = [];
  const answer = async (c: SeenCommand, type: string, headers: Record<string, string> = {}, payload: Record<string, unknown> = {}) => {
    const id = uuidv7();
    await publishEnvelope(link.js, c.replySubject, encodeEnvelope({
      eventId: id, eventType: type, aggregateId: c.envelope.aggregateId, timestamp: new Date().toISOString(), version: 1,
      correlationId: c.envelope.correlationId, causationId: c.envelope.eventId, payload,
    }), headers, id);
  };
  const subs = prefixes.map((prefix) => link.nc.subscribe(`${prefix}.commands`, {
    callback: (err, msg) => {
      if (err !== null) return;
      const parsed = parseEnvelope(msg.data);
      if (!parsed.ok) return;
      const headers: Record<string, string> = {};
      for (const k of msg.headers?.keys() ?? []) headers[k] = msg.headers?.get(k) ?? '';
      const c: SeenCommand = { envelope: parsed.envelope, headers, replySubject: `${prefix}.replies` };
      seen.push(c);
      const r = script(c);
      if (r === null) return;
      void answer(c, r.type, around?.(c) ?? {}, r.payload ?? {});
    },
  }));
  await link.nc.flush();
  return {
    link, seen, answer: (c, type, headers) => answer(c, type, headers),
    async stop() {
      for (const sub of subs) sub.unsubscribe();
      await link.drain();
    },
  };
}

/** Publishes a trigger event `Begin` on `<prefix>.events` with the given headers. */
export async function publishBegin(link: NatsLink, order: string, headers: Record<string, string> = {}, prefix = 'tr'): Promise<string> {
  const id = uuidv7();
  await publishEnvelope(link.js, `${prefix}.events`, encodeEnvelope({
    eventId: id, eventType: 'Begin', aggregateId: order, timestamp: new Date().toISOString(), version: 1,
    correlationId: `c-${order}`, causationId: null, payload: { order },
  }), headers, id);
  return id;
}
