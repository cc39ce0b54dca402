import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { decide, isRejection, start, type CompiledSaga, type Env, type InstanceState, type InstanceStatus } from '../engine/core/index.js';
import { loadDefinitionsFile } from '../engine/definitions/index.js';
import { openStore } from '../engine/store/index.js';
import { createUuidv7 } from '../engine/ids.js';
import { memoryMb, root } from './proc.js';
import { percentiles, type Percentiles } from './stats.js';
import { sandbox, startSagad } from './targets.js';

export interface ListResult {
  readonly instances: number;
  readonly generateSeconds: number;
  readonly dbMb: number;
  readonly sagadReadyMs: number;
  readonly requests: number;
  /** Client-side time of each `GET /v1/instances`, all filters together. */
  readonly all: Percentiles;
  /** The same, per kind of query. */
  readonly byQuery: Record<string, Percentiles>;
  readonly peakRssMb: number;
}

/** A finished instance of order-fulfillment as the pure core leaves it: completed, or compensated after ship-order was rejected. */
function finishedState(def: CompiledSaga, reject: boolean): InstanceState {
  let now = Date.UTC(2026, 0, 1);
  const ids = createUuidv7();
  const env = (): Env => ({ now: (now += 7), newId: () => ids(now), random: () => 0.5 });
  const input = { orderId: 'o-template', customerId: 'cust-1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42.5, shippingAddress: { city: 'Berlin', zip: '10115' } };
  let d = start(def, { id: 'id-template', input, key: 'o-template', correlationId: 'c-template', event: null, causationId: 'id-template' }, env());
  const answers: Record<string, [string, Record<string, unknown>]> = {
    ReserveInventory: ['InventoryReserved', { reservationId: 'res-1' }], ChargePayment: ['PaymentCharged', { paymentId: 'pay-1' }],
    ShipOrder: reject ? ['ShipmentRejected', { reason: 'no carrier' }] : ['OrderShipped', { trackingNumber: 'trk-1' }],
    RefundPayment: ['PaymentRefunded', {}], ReleaseInventory: ['InventoryReleased', {}],
  };
  for (let i = 0; i < 10 && (d.state.status === 'running' || d.state.status === 'compensating'); i++) {
    const cmd = d.effects.find((e) => e.type === 'SendCommand');
    if (cmd === undefined || cmd.type !== 'SendCommand') break;
    const [eventType, payload] = answers[cmd.command.eventType] ?? ['Unknown', {}];
    const next = decide(def, d.state, { type: 'ReplyReceived', message: { eventId: ids(now), eventType, correlationId: 'c-template', causationId: cmd.command.eventId, aggregateId: 'o-template', version: 1, payload } }, env());
    if (isRejection(next)) throw new Error(`template saga rejected: ${next.rejected.message}`);
    d = next;
  }
  if (d.state.status !== (reject ? 'compensated' : 'completed')) throw new Error(`template saga ended ${d.state.status}`);
  return d.state;
}

/**
 * Writes `n` finished instances into a fresh sagad database: schema by openStore (so it is
 * exactly sagad's), rows by one bulk INSERT transaction. 90% completed, 10% compensated, one
 * per millisecond of creation time, state documents from the real core. The journal is left
 * empty: the list reads only the projection.
 */
export function generateFinished(file: string, n: number): number {
  const began = performance.now();
  openStore(file).close();
  const defs = loadDefinitionsFile(join(root, 'saga-definitions.yaml'));
  if (!defs.ok || defs.sagas[0] === undefined) throw new Error('cannot load saga-definitions.yaml');
  const def = defs.sagas[0];
  const templates: Record<'completed' | 'compensated', string> = { completed: JSON.stringify(finishedState(def, false)), compensated: JSON.stringify(finishedState(def, true)) };
  const db = new Database(file);
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  const insert = db.prepare(`INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const ids = createUuidv7();
  const t0 = Date.now() - n - 60_000;
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const status: InstanceStatus = i % 10 === 7 ? 'compensated' : 'completed';
      const at = t0 + i;
      const id = ids(at);
      const key = `o-${i}`;
      const corr = `c-${i}`;
      const state = templates[status].replaceAll('id-template', id).replaceAll('o-template', key).replaceAll('c-template', corr);
      insert.run(id, def.name, def.hash, key, corr, status, at, at + 40, status === 'completed' ? 12 : 18, state);
    }
  })();
  db.close();
  return (performance.now() - began) / 1000;
}

/** Generates the database, starts sagad on it and times a few hundred filtered `GET /v1/instances`. */
export async function runList(n: number, requests: number): Promise<ListResult> {
  const box = await sandbox();
  const db = join(box.dir, 'sagad.db');
  try {
    const generateSeconds = generateFinished(db, n);
    const dbMb = statSync(db).size / 2 ** 20;
    const sagad = await startSagad({ natsUrl: box.nats.url, db });
    try {
      const pick = () => Math.floor(Math.random() * n);
      const queries: Record<string, () => string> = {
        'newest 50': () => 'limit=50',
        'saga+state=compensated': () => 'saga=order-fulfillment&state=compensated&limit=50',
        'state=completed, 100': () => 'state=completed&limit=100',
        'state=running (none)': () => 'state=running&limit=50',
        'key': () => `key=o-${pick()}`,
        'correlationId': () => `correlationId=c-${pick()}`,
        'saga+state+since': () => `saga=order-fulfillment&state=compensated&since=${Date.now() - n - 60_000 + pick()}&limit=50`,
      };
      const cursors: string[] = [];
      const byQuery: Record<string, number[]> = { 'next page (cursor)': [] };
      const get = async (qs: string): Promise<{ ms: number; nextCursor: string | null }> => {
        const began = performance.now();
        const res = await fetch(`${sagad.url}/v1/instances?${qs}`);
        const body = await res.json() as { nextCursor?: string | null };
        const ms = performance.now() - began;
        if (res.status !== 200) throw new Error(`GET /v1/instances?${qs}: ${res.status} ${JSON.stringify(body)}`);
        return { ms, nextCursor: body.nextCursor ?? null };
      };
      for (let i = 0; i < 20; i++) await get('limit=50'); // warm the connection and the statement cache
      const names = Object.keys(queries);
      for (let i = 0; i < requests; i++) {
        const name = names[i % (names.length + 1)];
        if (name === undefined) {
          const cursor = cursors.pop();
          if (cursor === undefined) continue;
          const r = await get(`saga=order-fulfillment&state=compensated&limit=50&cursor=${encodeURIComponent(cursor)}`);
          byQuery['next page (cursor)']?.push(r.ms);
          if (r.nextCursor !== null) cursors.push(r.nextCursor);
          continue;
        }
        const r = await get(queries[name]?.() ?? '');
        (byQuery[name] ??= []).push(r.ms);
        if (r.nextCursor !== null && name === 'saga+state=compensated') cursors.push(r.nextCursor);
      }
      const all = Object.values(byQuery).flat();
      return {
        instances: n, generateSeconds, dbMb, sagadReadyMs: sagad.readyMs, requests: all.length, all: percentiles(all),
        byQuery: Object.fromEntries(Object.entries(byQuery).map(([k, v]) => [k, percentiles(v)])), peakRssMb: memoryMb(sagad.pid),
      };
    } finally {
      await sagad.stop();
    }
  } finally {
    await box.close();
  }
}
