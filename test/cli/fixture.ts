/**
 * A database filled deterministically through the real core and the runtime's changeOf and the SQLite adapter's write:
 * a fixed clock and ids, so documents, timers and journals are the same on every run.
 */
import { join } from 'node:path';
import type { DefinitionDetail, HistoryEntryDocument, InstanceDocument } from '../../engine/api/index.js';
import { definitionDetail, historyEntry, instanceDocument } from '../../engine/api/index.js';
import { decide, isRejection, start, startKey, type CompiledSaga, type Env, type InstanceState, type SagaInput, type TimerRef } from '../../engine/core/index.js';
import { formatDefinitionError, loadDefinitionsFile } from '../../engine/definitions/index.js';
import { changeOf } from '../../engine/runtime/change.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { applyWrite } from '../../engine/store/sqlite-port.js';

export const root = new URL('../..', import.meta.url).pathname;

function load(file: string): CompiledSaga[] {
  const r = loadDefinitionsFile(join(root, file));
  if (!r.ok) throw new Error(r.errors.map(formatDefinitionError).join('\n'));
  return r.sagas;
}

export const sagas = [...load('sagas/order-fulfillment.yaml'), ...load('sagas/trip-booking.yaml')];

/** 2026-11-26 12:00:00 UTC. */
export const t0 = Date.UTC(2026, 10, 26, 12, 0, 0);

export const orderInput = (orderId: string) => ({ orderId, customerId: 'c-1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42 });
export const tripInput = (bookingId: string) => ({ bookingId, from: 'AMS', to: 'LIS', departureDate: '2026-12-01', nights: 3 });

/** A store (file or memory) driven input by input with a clock that only moves when told. */
export class Fixture {
  now = t0;
  private n = 0;
  readonly store: Store;

  constructor(file = ':memory:') {
    this.store = openStore(file);
    for (const s of sagas) this.store.rememberDefinition(s.hash, s.name, s.source, t0);
  }

  private env(): Env {
    return { now: this.now, newId: () => `m-${String(++this.n).padStart(4, '0')}`, random: () => 0.5 };
  }

  private def(name: string): CompiledSaga {
    const d = sagas.find((s) => s.name === name);
    if (d === undefined) throw new Error(`no saga ${name}`);
    return d;
  }

  /** Moves the clock on by `ms`. */
  advance(ms: number): this {
    this.now += ms;
    return this;
  }

  start(saga: string, id: string, input: unknown): InstanceState {
    const def = this.def(saga);
    const k = startKey(def, input, null, id, `corr-${id}`);
    if (!k.ok) throw new Error(k.error);
    const d = start(def, { id, input, key: k.key, correlationId: `corr-${id}`, event: null, causationId: `req-${id}` }, this.env());
    this.store.tx(() => applyWrite(this.store, { messageId: null, firedTimer: null, changes: [changeOf(def, undefined, d)].filter((c) => c !== null) }));
    return d.state;
  }

  feed(id: string, input: SagaInput): InstanceState {
    const state = this.store.getInstance(id);
    if (state === undefined) throw new Error(`no instance ${id}`);
    const def = this.def(state.saga);
    const d = decide(def, state, input, this.env());
    if (isRejection(d)) throw new Error(d.rejected.message);
    this.store.tx(() => applyWrite(this.store, { messageId: null, firedTimer: null, changes: [changeOf(def, state, d)].filter((c) => c !== null) }));
    return d.state;
  }

  /** The reply `eventType` to the command the step (or its compensation) awaits. */
  reply(id: string, step: string, eventType: string, payload: Record<string, unknown> = {}): InstanceState {
    const st = this.store.getInstance(id)?.steps[step];
    const causationId = st?.compensation?.awaiting ?? st?.awaiting;
    if (causationId == null) throw new Error(`${id}/${step} awaits nothing`);
    const message = { eventId: `r-${++this.n}`, eventType, correlationId: `corr-${id}`, causationId, aggregateId: id, version: 1, payload };
    return this.feed(id, { type: 'ReplyReceived', message });
  }

  /** Moves the clock to the instance's timer of `kind` (for `step`) and fires it, as the timer service does. */
  fire(id: string, kind: TimerRef['kind'], step?: string): InstanceState {
    const row = this.store.timersOf(id).find((r) => r.data.kind === kind && (step === undefined || ('step' in r.data && r.data.step === step)));
    if (row === undefined) throw new Error(`${id} has no ${kind} timer${step === undefined ? '' : ` for ${step}`}`);
    this.now = Math.max(this.now, row.dueAt);
    this.store.tx(() => this.store.deleteTimer(id, row.timerId));
    return this.feed(id, { type: 'TimerFired', timer: row.data });
  }

  /** What `why` gets for an instance: its document with timers, its definition, its journal. */
  why(id: string): { instance: InstanceDocument; definition: DefinitionDetail; history: HistoryEntryDocument[]; now: number } {
    const state = this.store.getInstance(id);
    if (state === undefined) throw new Error(`no instance ${id}`);
    const def = this.def(state.saga);
    return {
      instance: instanceDocument(state, def, this.store.timersOf(id)), definition: definitionDetail(def),
      history: this.store.history(id).map(historyEntry), now: this.now,
    };
  }

  close(): void {
    this.store.close();
  }
}

/**
 * Fills a fixture with one instance in each situation an operator meets: completed,
 * compensated, failed compensating, a retry after a timeout, past the pivot, cancelled while a
 * step was in flight, compensating after the pivot failed, parallel steps in flight, a wait,
 * and a retryable failure waiting for its next attempt.
 */
export function fillScenarios(f: Fixture): void {
  // Ended ones first, minutes apart.
  f.start('order-fulfillment', 'ord-completed', orderInput('o-completed'));
  f.advance(120).reply('ord-completed', 'reserve-inventory', 'InventoryReserved', { reservationId: 'res-1' });
  f.advance(340).reply('ord-completed', 'charge-payment', 'PaymentCharged', { paymentId: 'pay-1' });
  f.advance(1500).reply('ord-completed', 'ship-order', 'OrderShipped', { trackingNumber: 'trk-1' });

  f.advance(60_000).start('order-fulfillment', 'ord-compensated', orderInput('o-compensated'));
  f.advance(80).reply('ord-compensated', 'reserve-inventory', 'InventoryReserved', { reservationId: 'res-2' });
  f.advance(200).reply('ord-compensated', 'charge-payment', 'PaymentDeclined', { reason: 'card declined' });
  f.advance(90).reply('ord-compensated', 'reserve-inventory', 'InventoryReleased', {});

  f.advance(60_000).start('order-fulfillment', 'ord-stuck', orderInput('o-stuck'));
  f.advance(100).reply('ord-stuck', 'reserve-inventory', 'InventoryReserved', { reservationId: 'res-4' });
  f.advance(100).feed('ord-stuck', { type: 'CancelRequested', reason: 'fraud suspected' });
  f.advance(100).reply('ord-stuck', 'charge-payment', 'PaymentRefunded', {});
  for (let s = f.store.getInstance('ord-stuck'); s?.status === 'compensating'; s = f.store.getInstance('ord-stuck')) {
    const c = s.steps['reserve-inventory']?.compensation;
    f.fire('ord-stuck', c?.status === 'running' ? 'comp_timeout' : 'comp_retry', 'reserve-inventory');
  }

  // Then those still in progress, close together, so none of their timers is due yet.
  f.advance(60_000).start('order-fulfillment', 'ord-retried', orderInput('o-retried'));
  f.fire('ord-retried', 'attempt_timeout', 'reserve-inventory');
  f.fire('ord-retried', 'retry', 'reserve-inventory');

  f.advance(200).start('order-fulfillment', 'ord-pivot', orderInput('o-pivot'));
  f.advance(100).reply('ord-pivot', 'reserve-inventory', 'InventoryReserved', { reservationId: 'res-6' });
  f.advance(100).reply('ord-pivot', 'charge-payment', 'PaymentCharged', { paymentId: 'pay-6' });

  f.advance(200).start('order-fulfillment', 'ord-cancelled', orderInput('o-cancelled'));
  f.advance(100).reply('ord-cancelled', 'reserve-inventory', 'InventoryReserved', { reservationId: 'res-3' });
  f.advance(300).feed('ord-cancelled', { type: 'CancelRequested', reason: 'customer called' });

  f.advance(200).start('order-fulfillment', 'ord-rejected', orderInput('o-rejected'));
  f.advance(100).reply('ord-rejected', 'reserve-inventory', 'InventoryReserved', { reservationId: 'res-5' });
  f.advance(100).reply('ord-rejected', 'charge-payment', 'PaymentCharged', { paymentId: 'pay-5' });
  f.advance(100).reply('ord-rejected', 'ship-order', 'ShipmentRejected', { reason: 'address unknown' });

  f.advance(200).start('trip-booking', 'trip-parallel', tripInput('b-1'));

  f.advance(200).start('trip-booking', 'trip-waiting', tripInput('b-2'));
  f.advance(300).reply('trip-waiting', 'book-flight', 'FlightBooked', { ticket: 't-1', arrival: '2026-12-01T10:00:00Z' });
  f.advance(300).reply('trip-waiting', 'book-hotel', 'HotelBooked', { reservation: 'h-1' });

  f.advance(200).start('order-fulfillment', 'ord-busy', orderInput('o-busy'));
  f.advance(50).reply('ord-busy', 'reserve-inventory', 'InventoryBusy', { reason: 'warehouse lock' });
  f.advance(100);
}
