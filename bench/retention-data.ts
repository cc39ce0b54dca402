/** Finished instances with their journals, for the retention bench (bench/retention.ts). */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { decide, eventVersion, isRejection, start, type CompiledSaga, type Env, type SagaEvent } from '../engine/core/index.js';
import { loadDefinitionsFile } from '../engine/definitions/index.js';
import { createUuidv7 } from '../engine/ids.js';
import { openStore } from '../engine/store/index.js';
import { root } from './proc.js';

interface Template { readonly state: string; readonly events: readonly { type: string; at: number; data: string }[]; readonly commands: readonly { id: string; step: string; kind: 'do' | 'undo' }[] }

/** A finished instance of order-fulfillment through the real core, with its events and the commands it sent. */
function template(def: CompiledSaga, reject: boolean): Template {
  let now = Date.UTC(2026, 0, 1);
  const ids = createUuidv7();
  const env = (): Env => ({ now: (now += 7), newId: () => ids(now), random: () => 0.5 });
  const input = { orderId: 'o-template', customerId: 'cust-1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42.5, shippingAddress: { city: 'Berlin', zip: '10115' } };
  let d = start(def, { id: 'id-template', input, key: 'o-template', correlationId: 'c-template', event: null, causationId: 'id-template' }, env());
  const events: SagaEvent[] = [...d.events];
  const commands: Template['commands'][number][] = [];
  const answers: Record<string, [string, Record<string, unknown>]> = {
    ReserveInventory: ['InventoryReserved', { reservationId: 'res-1' }], ChargePayment: ['PaymentCharged', { paymentId: 'pay-1' }],
    ShipOrder: reject ? ['ShipmentRejected', { reason: 'no carrier' }] : ['OrderShipped', { trackingNumber: 'trk-1' }],
    RefundPayment: ['PaymentRefunded', {}], ReleaseInventory: ['InventoryReleased', {}],
  };
  for (let i = 0; i < 10 && (d.state.status === 'running' || d.state.status === 'compensating'); i++) {
    const cmd = d.effects.find((e) => e.type === 'SendCommand');
    if (cmd === undefined || cmd.type !== 'SendCommand') break;
    const h = cmd.command.headers;
    commands.push({ id: cmd.command.eventId, step: h['Saga-Step'], kind: h['Idempotency-Key'].endsWith('/undo') ? 'undo' : 'do' });
    const [eventType, payload] = answers[cmd.command.eventType] ?? ['Unknown', {}];
    const next = decide(def, d.state, { type: 'ReplyReceived', message: { eventId: ids(now), eventType, correlationId: 'c-template', causationId: cmd.command.eventId, aggregateId: 'o-template', version: 1, payload } }, env());
    if (isRejection(next)) throw new Error(`template saga rejected: ${next.rejected.message}`);
    d = next;
    events.push(...d.events);
  }
  if (d.state.status !== (reject ? 'compensated' : 'completed')) throw new Error(`template saga ended ${d.state.status}`);
  return { state: JSON.stringify(d.state), events: events.map((e) => ({ type: e.type, at: e.at, data: JSON.stringify(e) })), commands };
}

/**
 * Writes `n` finished instances (90% completed, 10% compensated) created before now, each
 * with its journal (8 to 12 events) and command index rows, into a fresh sagad database.
 */
export function generate(file: string, n: number, log: (s: string) => void): { seconds: number; journalRows: number } {
  const began = performance.now();
  openStore(file).close();
  const defs = loadDefinitionsFile(join(root, 'saga-definitions.yaml'));
  if (!defs.ok || defs.sagas[0] === undefined) throw new Error('cannot load saga-definitions.yaml');
  const def = defs.sagas[0];
  const templates = { completed: template(def, false), compensated: template(def, true) };
  const db = new Database(file);
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -524288');
  const instance = db.prepare(`INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const journal = db.prepare('INSERT INTO journal (instance_id, seq, type, type_version, at, data) VALUES (?, ?, ?, ?, ?, ?)');
  const command = db.prepare('INSERT INTO commands (command_id, instance_id, step, kind) VALUES (?, ?, ?, ?)');
  db.prepare('INSERT INTO definitions (hash, name, source, first_seen_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(def.hash, def.name, def.source, 0);
  const ids = createUuidv7();
  // Finished an hour and more ago: SAGA_RETENTION=30m takes them all, not the load's own.
  const t0 = Date.now() - 3_600_000 - n;
  let journalRows = 0;
  const chunk = 50_000;
  for (let from = 0; from < n; from += chunk) {
    db.transaction(() => {
      for (let i = from; i < Math.min(n, from + chunk); i++) {
        const status = i % 10 === 7 ? 'compensated' : 'completed';
        const tpl = templates[status];
        const at = t0 + i;
        const id = ids(at);
        const key = `o-${i}`;
        const corr = `c-${i}`;
        const fill = (s: string) => {
          let out = s.replaceAll('id-template', id).replaceAll('o-template', key).replaceAll('c-template', corr);
          tpl.commands.forEach((c, k) => { out = out.replaceAll(c.id, `${id}-c${k}`); });
          return out;
        };
        tpl.events.forEach((e, k) => {
          journal.run(id, k + 1, e.type, eventVersion[e.type as SagaEvent['type']] ?? 1, at + k, fill(e.data));
        });
        journalRows += tpl.events.length;
        tpl.commands.forEach((c, k) => command.run(`${id}-c${k}`, id, c.step, c.kind));
        instance.run(id, def.name, def.hash, key, corr, status, at, at + 40, tpl.events.length, fill(tpl.state));
      }
    })();
    if ((from / chunk) % 4 === 3) log(`  generated ${from + chunk} instances`);
  }
  db.close();
  return { seconds: (performance.now() - began) / 1000, journalRows };
}

