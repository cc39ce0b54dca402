import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { SagaError } from '../errors.js';
import { defaultInputLimits, type InputLimits } from '../json-bounds.js';
import type { LogFn } from '../log.js';
import { parseEnvelope } from '../transport/envelope.js';
import type { Engine } from './engine.js';
import { fault } from '../fault.js';
import { kindOf, LOG_INTERVAL_MS, throttledLog } from './log-throttle.js';

const encoder = new TextEncoder();

/** How many start requests are handled at once at most, and how many bytes of messages they may take together. */
export interface StartRequestLimits {
  readonly count: number;
  readonly bytes: number;
}

/**
 * The default: enough to fill a shared commit with small starts, and four messages of
 * SAGA_MAX_MESSAGE_BYTES' default. With 16 MiB, a shared commit of 900 KB starts held the event
 * loop long enough to delay /healthz by up to a second under a flood; with 4 MiB, no more than
 * unbounded handling did, at a third of its memory.
 */
export const START_REQUEST_LIMITS: StartRequestLimits = { count: 64, bytes: 4 * 1024 * 1024 };

/** The fields of a start request's payload (DESIGN section 3). */
const START_FIELDS: ReadonlySet<string> = new Set(['input', 'key', 'id']);

/**
 * Serves `sagas.start.<name>` (DESIGN section 3) on a core NATS queue subscription: the
 * envelope's payload is `{input, key?, id?}` and a request is answered with `{id, state}`
 * after the start committed, so an answered start is never lost. Without an `id`, the
 * envelope's eventId names the instance, so a repeated request starts nothing new.
 *
 * The requests handled at once stay within `limits` (one is always taken, however big); the
 * next is taken from the subscription once one of them has been answered. Unbounded, a
 * thousand 900 KB requests parsed, validated and committed together took 2.5 GB and starved
 * the lease renewals for half a minute. Waiting rather than refusing keeps the contract:
 * every request is answered as before, a start published without a reply subject is not lost
 * to a burst, and the requester's timeout bounds its wait.
 */
export function serveStartRequests(
  nc: NatsConnection, engine: Engine, log: LogFn, limits = START_REQUEST_LIMITS, input: InputLimits = defaultInputLimits,
): Subscription {
  if (!(limits.count >= 1 && limits.bytes >= 1)) throw new RangeError(`start request limits must be at least 1, not ${JSON.stringify(limits)}`);
  // A flood of one kind of failure (garbage published on sagas.start.x) is one line per 10 s.
  const once = throttledLog(log, LOG_INTERVAL_MS);

  /** Handles one request; resolves once it is answered (or, without a reply subject, settled). */
  const handle = async (msg: Msg): Promise<void> => {
    const askedForAnswer = msg.reply !== undefined && msg.reply !== '';
    const answer = (body: unknown) => {
      // Stryker disable next-line ConditionalExpression: respond() itself publishes nothing without a reply subject; the guard only says so
      if (askedForAnswer) msg.respond(encoder.encode(JSON.stringify(body)));
    };
    const saga = msg.subject.slice('sagas.start.'.length);
    // A request published without a reply subject has nobody to tell, and core NATS delivers
    // it once: its refusal is logged, so that it is not dropped silently (DESIGN section 3).
    // Throttled by the failure alone, the saga name blanked: the sender picks the subject, and
    // garbage on a thousand subjects must not make a thousand lines.
    const refuse = (code: string, message: string, eventId?: string) => {
      if (!askedForAnswer) {
        once('warn', 'a start request without a reply subject failed; it is not retried (send it as a request to be told)', `${code} ${kindOf(message.split(saga).join('…'))}`, {
          subject: msg.subject, ...(eventId === undefined ? {} : { eventId }), code, error: message,
        });
      }
      answer({ error: { code, message } });
    };
    // SAGA_MAX_MESSAGE_BYTES and SAGA_MAX_JSON_DEPTH, as for every other message.
    const parsed = parseEnvelope(msg.data, input);
    if (!parsed.ok) {
      refuse('SAGA_ERR_INVALID_MESSAGE', parsed.reason);
      return;
    }
    const e = parsed.envelope;
    const p = e.payload as { input?: unknown; key?: unknown; id?: unknown };
    // As the HTTP start's body: a misspelt field is named, not read as a missing input (the
    // envelope's payload is an object: parseEnvelope refuses any other).
    // A saga that is not loaded is refused as such by the start below, whatever the payload.
    const known = engine.definitions().some((d) => d.name === saga);
    const unknown = Object.keys(p).filter((k) => !START_FIELDS.has(k));
    if (known && unknown.length > 0) {
      const named = unknown.slice(0, 5).map((k) => JSON.stringify(k)).join(', ');
      refuse('SAGA_ERR_INVALID_INPUT', `the payload has unknown field${unknown.length === 1 ? '' : 's'} ${named}: a start request's payload is {input, key?, id?}`, e.eventId);
      return;
    }
    if (known && (p.key !== undefined && typeof p.key !== 'string' || p.id !== undefined && typeof p.id !== 'string')) {
      refuse('SAGA_ERR_INVALID_INPUT', 'payload.key and payload.id must be strings when given', e.eventId);
      return;
    }
    await engine.start({
      saga, input: p.input ?? {}, key: p.key as string | undefined, id: (p.id as string | undefined) ?? e.eventId,
      correlationId: e.correlationId === '' ? undefined : e.correlationId,
      // The requester's trace, read only when sagad traces.
      trace: engine.deps.tracing === undefined || msg.headers === undefined ? undefined
        : { traceparent: msg.headers.get('traceparent') || undefined, tracestate: msg.headers.get('tracestate') || undefined },
    }).then(
      (r) => {
        // Stryker disable next-line all: a fault point acts only with SAGA_FAULT set; the crash tests set it, on the built server (test/e2e/fault-*.test.ts)
        fault('after-start-commit-before-reply');
        answer({ id: r.state.id, state: r.state.status, created: r.created });
      },
      (error: unknown) => {
        refuse(error instanceof SagaError ? error.code : 'SAGA_ERR_INTERNAL', error instanceof Error ? error.message : String(error), e.eventId);
      },
    );
  };

  const sub = nc.subscribe('sagas.start.>', { queue: 'sagad' });
  let running = 0;
  let bytes = 0;
  let freed: (() => void) | null = null;
  const done = (size: number): void => {
    running -= 1;
    bytes -= size;
    const wake = freed;
    freed = null;
    wake?.();
  };
  void (async () => {
    try {
      for await (const msg of sub) {
        const size = msg.data.length;
        while (running >= limits.count || (running > 0 && bytes + size > limits.bytes)) await new Promise<void>((resolve) => (freed = resolve));
        running += 1;
        bytes += size;
        // Refusals are answered in handle(); what is left is an answer that could not be sent.
        void handle(msg).catch((err: unknown) => {
          log('warn', 'a start request could not be answered', { subject: msg.subject, error: err instanceof Error ? err.message : String(err) });
        }).finally(() => done(size));
      }
    } catch (err) {
      log('warn', 'start subscription error', { error: err instanceof Error ? err.message : String(err) });
    }
  })();
  return sub;
}
