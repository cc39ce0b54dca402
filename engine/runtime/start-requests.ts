import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { SagaError } from '../errors.js';
import type { LogFn } from '../log.js';
import { parseEnvelope } from '../transport/envelope.js';
import type { Engine } from './engine.js';
import { fault } from '../fault.js';
import { kindOf, LOG_INTERVAL_MS, throttledLog } from './log-throttle.js';

const encoder = new TextEncoder();

/**
 * Serves `sagas.start.<name>` (DESIGN section 3) on a core NATS queue subscription: the
 * envelope's payload is `{input, key?, id?}` and a request is answered with `{id, state}`
 * after the start committed, so an answered start is never lost. Without an `id`, the
 * envelope's eventId names the instance, so a repeated request starts nothing new.
 */
export function serveStartRequests(nc: NatsConnection, engine: Engine, log: LogFn): Subscription {
  // A flood of one kind of failure (garbage published on sagas.start.x) is one line per 10 s.
  const once = throttledLog(log, LOG_INTERVAL_MS);
  return nc.subscribe('sagas.start.>', {
    queue: 'sagad',
    callback: (err, msg) => {
      if (err !== null) {
        log('warn', 'start subscription error', { error: err.message });
        return;
      }
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
      const parsed = parseEnvelope(msg.data);
      if (!parsed.ok) {
        refuse('SAGA_ERR_INVALID_MESSAGE', parsed.reason);
        return;
      }
      const e = parsed.envelope;
      const p = e.payload as { input?: unknown; key?: unknown; id?: unknown };
      if (p.key !== undefined && typeof p.key !== 'string' || p.id !== undefined && typeof p.id !== 'string') {
        refuse('SAGA_ERR_INVALID_INPUT', 'payload.key and payload.id must be strings when given', e.eventId);
        return;
      }
      engine.start({
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
    },
  });
}
