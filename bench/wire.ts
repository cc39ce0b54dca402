import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { encodeEnvelope, type Envelope } from '../engine/transport/envelope.js';
import { uuidv7 } from '../engine/ids.js';

/** The subjects of the example saga (sagas/order-fulfillment.yaml), shared by sagad, the reference loop and the load generator. */
export const SUBJECTS = {
  start: 'orders.events',
  commands: ['inventory.commands', 'payments.commands', 'shipping.commands'],
  replies: ['inventory.events', 'payments.events', 'shipping.events'],
  lifecycle: 'sagas.events',
} as const;

/** Lifecycle event types that end a saga. */
export const END_TYPES: ReadonlySet<string> = new Set(['SagaCompleted', 'SagaCompensated', 'SagaFailed']);

/** A connected client with JetStream, as every bench process uses it (no async stack traces: they cost CPU). */
export interface Link {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
}

export async function link(url: string, name: string): Promise<Link> {
  const nc = await connect({ servers: url, name, noAsyncTraces: true, maxReconnectAttempts: -1 });
  return { nc, js: jetstream(nc, { timeout: 30_000 }) };
}

/** An envelope with a fresh UUIDv7 id and the current time. */
export function envelope(eventType: string, aggregateId: string, correlationId: string, causationId: string | null, payload: Record<string, unknown>): Envelope {
  return { eventId: uuidv7(), eventType, aggregateId, timestamp: new Date().toISOString(), version: 1, correlationId, causationId, payload };
}

/** The OrderPlaced trigger of one bench saga: orderId and correlationId are the same unique string. */
export function orderPlaced(orderId: string): Envelope {
  return envelope('OrderPlaced', orderId, orderId, null, {
    orderId, customerId: 'cust-1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42.5, shippingAddress: { city: 'Berlin', zip: '10115' },
  });
}

/** What a participant answers to a command type: subject, success type and payload; `ShipOrder` may be rejected. */
export function replyTo(cmd: Envelope, reject: boolean): { subject: string; envelope: Envelope } | undefined {
  const id = cmd.aggregateId;
  const make = (subject: string, type: string, payload: Record<string, unknown>) =>
    ({ subject, envelope: envelope(type, id, cmd.correlationId, cmd.eventId, payload) });
  switch (cmd.eventType) {
    case 'ReserveInventory': return make('inventory.events', 'InventoryReserved', { reservationId: `res-${id}` });
    case 'ChargePayment': return make('payments.events', 'PaymentCharged', { paymentId: `pay-${id}` });
    case 'ShipOrder': return reject ? make('shipping.events', 'ShipmentRejected', { reason: 'bench: rejected' }) : make('shipping.events', 'OrderShipped', { trackingNumber: `trk-${id}` });
    case 'RefundPayment': return make('payments.events', 'PaymentRefunded', { paymentId: `pay-${id}` });
    case 'ReleaseInventory': return make('inventory.events', 'InventoryReleased', { reservationId: `res-${id}` });
    default: return undefined;
  }
}

/** Publishes an envelope to JetStream with Nats-Msg-Id = eventId; resolves on the PubAck. */
export async function publish(js: JetStreamClient, subject: string, env: Envelope, headers?: Parameters<JetStreamClient['publish']>[2]): Promise<void> {
  await js.publish(subject, encodeEnvelope(env), { msgID: env.eventId, ...headers });
}
