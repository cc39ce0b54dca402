import { join } from 'node:path';
import type { Test } from 'tap';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import { uuidv7 } from '../../engine/ids.js';
import type { Envelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import type { HistoryEntry, InstanceDoc } from './api-client.js';
import { FIXTURES } from './harness.js';
import type { World } from './harness.js';

/** Helpers of the step-kind tests (fixtures/kinds.yaml): starting a saga by name, publishing events, reading the journal. */
export const KINDS_DEFS = join(FIXTURES, 'kinds.yaml');

/** Starts an instance of `saga` for an order (directives after `~`, see participant.ts); insists on a 201. */
export async function startOrder(w: World, saga: string, orderId: string): Promise<InstanceDoc> {
  const r = await w.api.req<InstanceDoc>('POST', `/v1/sagas/${saga}/instances`, { input: order(orderId) });
  if (r.status !== 201) throw new Error(`start of ${saga} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Publishes an envelope on a subject through JetStream, as a service of the system would; returns it. */
export async function publish(w: World, subject: string, eventType: string, aggregateId: string, payload: Record<string, unknown>, over: Partial<Envelope> = {}): Promise<Envelope> {
  const e: Envelope = {
    eventId: uuidv7(), eventType, aggregateId, timestamp: new Date().toISOString(), version: 1, correlationId: `corr-${uuidv7()}`, causationId: null, payload, ...over,
  };
  await publishEnvelope((await w.link()).js, subject, encodeEnvelope(e), {}, e.eventId);
  return e;
}

/** Resolves once the instance's step is in one of `states` (default: running or retrying). */
export function stepReaches(w: World, id: string, step: string, states: readonly string[] = ['running', 'retrying']): Promise<InstanceDoc> {
  return waitFor(async () => {
    const doc = await w.api.instance(id);
    return states.includes(doc.steps.find((s) => s.name === step)?.state ?? '') ? doc : undefined;
  }, 15_000, { what: `${id}: ${step} to be ${states.join(' or ')}` });
}

/** Journal event types, optionally of one step only. */
export const types = (h: readonly HistoryEntry[], step?: string): string[] => h.filter((e) => step === undefined || e.data.step === step).map((e) => e.type);

/** `[type, step]` of the journal entries about steps, for readable order assertions. */
export const stepEvents = (h: readonly HistoryEntry[], ...kinds: string[]): [string, string][] =>
  h.filter((e) => kinds.includes(e.type)).map((e) => [e.type, String(e.data.step)]);

/** Checks the judge's verdict with the logs at hand. */
export function sound(t: Test, w: World, problems: string[], what = 'saga guarantee'): void {
  t.same(problems, [], what, w.diag());
}
