import { waitFor } from '../helpers/sagad.js';

/** The saga the e2e tests run: order-fulfillment (sagas/order-fulfillment.yaml, test/e2e/fixtures). */
export const SAGA = 'order-fulfillment';

/** An OrderPlaced@1 payload for an orderId (directives go after `~`, see participant.ts). */
export function order(orderId: string): Record<string, unknown> {
  return { orderId, customerId: 'c-1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42, shippingAddress: { city: 'Lyon' } };
}

/** A step of the instance document (DESIGN section 4), the fields the tests read. */
export interface StepDoc {
  name: string;
  state: string;
  attempts: number;
  lastError: string | null;
  compensation: { state: string; attempts: number; lastError: string | null } | null;
}
/** The instance document (DESIGN section 4), the fields the tests read. */
export interface InstanceDoc {
  id: string;
  saga: string;
  key: string | null;
  correlationId: string;
  state: string;
  definitionHash: string;
  steps: StepDoc[];
  reason?: string;
  failure?: { step: string; error: string };
}
/** An instance as GET /v1/instances lists it (the fields the tests read). */
export interface Summary { id: string; key: string | null; state: string }
export interface HistoryEntry { seq: number; type: string; data: Record<string, unknown> }
export interface Reply<T> { status: number; body: T }

/** A small client of the HTTP API (DESIGN section 4); `base` is read on every call, so it follows restarts. */
export class Api {
  constructor(private readonly base: () => string) {}

  async req<T = Record<string, unknown>>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    const res = await fetch(`${this.base()}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? null : res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T };
  }

  start(input: unknown, opts: { id?: string; key?: string; correlationId?: string } = {}, headers: Record<string, string> = {}): Promise<Reply<InstanceDoc>> {
    return this.req<InstanceDoc>('POST', `/v1/sagas/${SAGA}/instances`, { input, ...opts }, headers);
  }

  /** Starts and insists on a 201. */
  async started(input: unknown, opts: { id?: string; key?: string } = {}): Promise<InstanceDoc> {
    const r = await this.start(input, opts);
    if (r.status !== 201) throw new Error(`start answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async instance(id: string): Promise<InstanceDoc> {
    const r = await this.req<InstanceDoc>('GET', `/v1/instances/${encodeURIComponent(id)}`);
    if (r.status !== 200) throw new Error(`GET instance ${id} answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async history(id: string): Promise<HistoryEntry[]> {
    const r = await this.req<{ items: HistoryEntry[] }>('GET', `/v1/instances/${encodeURIComponent(id)}/history`);
    if (r.status !== 200) throw new Error(`GET history ${id} answered ${r.status}`);
    return r.body.items;
  }

  /** Every instance matching the filter (`saga`, `state`, `key`, ...), all pages. */
  async list(filter: Record<string, string> = {}): Promise<Summary[]> {
    const out: Summary[] = [];
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams({ ...filter, limit: '500', ...(cursor === null ? {} : { cursor }) });
      const r: Reply<{ items: Summary[]; nextCursor: string | null }> = await this.req('GET', `/v1/instances?${q}`);
      if (r.status !== 200) throw new Error(`list answered ${r.status}: ${JSON.stringify(r.body)}`);
      out.push(...r.body.items);
      cursor = r.body.nextCursor;
    } while (cursor !== null);
    return out;
  }

  cancel(id: string, reason = 'test'): Promise<Reply<InstanceDoc & { code?: string }>> {
    return this.req('POST', `/v1/instances/${encodeURIComponent(id)}/cancel`, { reason });
  }

  retry(id: string): Promise<Reply<InstanceDoc & { code?: string }>> {
    return this.req('POST', `/v1/instances/${encodeURIComponent(id)}/retry`);
  }

  async metric(name: string, labels = ''): Promise<number> {
    const r = await this.req<string>('GET', '/metrics');
    const line = r.body.split('\n').find((l) => l.startsWith(`${name}${labels === '' ? ' ' : `{${labels}} `}`));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  }

  /** Polls until the instance is in one of `states` (default: any end state) and returns it. */
  settled(id: string, timeoutMs = 20_000, states: readonly string[] = ['completed', 'compensated', 'failed']): Promise<InstanceDoc> {
    return waitFor(async () => {
      const doc = await this.instance(id);
      return states.includes(doc.state) ? doc : undefined;
    }, timeoutMs, { what: `instance ${id} to become ${states.join(' or ')}` });
  }
}
