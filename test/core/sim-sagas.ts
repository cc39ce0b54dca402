/** The two sagas the property tests drive, and the retry bound they check delays against. */
import type { CompiledSaga, LeafStep, RetryPolicy } from '../../engine/core/index.js';
import { loadFixture } from './harness.js';

// ---------------------------------------------------------------------------------------------
// The sagas under test

export interface SagaCase {
  readonly def: CompiledSaga;
  readonly pivot: string;
  input(flag: boolean): unknown;
  /** The wait step, when the saga has one: its subject, type and a (non-)matching payload. */
  readonly wait: { readonly step: string; readonly subject: string; readonly type: string; payload(matching: boolean): unknown } | null;
}

export function saga(file: string, name: string): CompiledSaga {
  const def = loadFixture(file)[name];
  if (def === undefined) throw new Error(`no saga ${name} in ${file}`);
  return def;
}

export const order: SagaCase = {
  def: saga('order.yaml', 'order'),
  pivot: 'ship',
  input: () => ({ orderId: 'o1', qty: 2, amount: '12.5' }),
  wait: null,
};

export const trip: SagaCase = {
  def: saga('trip.yaml', 'trip'),
  pivot: 'confirm',
  input: (breakfast) => ({ tripId: 't1', breakfast }),
  wait: { step: 'await-payment', subject: 'payments.events', type: 'PaymentConfirmed', payload: (m) => ({ tripId: m ? 't1' : 't2' }) },
};

export const INSTANCE = 'i1';
export const compensable = (l: LeafStep): boolean => l.compensate !== null && !l.afterPivot;

/** The largest delay a policy may give after `attempt` attempts, before jitter. */
export function cap(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxInterval, policy.initialInterval * Math.pow(policy.backoffRate, Math.max(0, attempt - 1)));
}
