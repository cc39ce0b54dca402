import { SagaError } from '../errors.js';

/** Stable codes of transport failures, in the `SAGA_ERR_*` family. */
export const TransportErrorCode = {
  StreamMissing: 'SAGA_ERR_STREAM_MISSING',
  StreamSetup: 'SAGA_ERR_STREAM_SETUP',
  ConsumerSetup: 'SAGA_ERR_CONSUMER_SETUP',
  NatsUnavailable: 'SAGA_ERR_NATS_UNAVAILABLE',
  /** NATS refused the credentials (or their absence): retrying cannot help. */
  NatsAuth: 'SAGA_ERR_NATS_AUTH',
} as const;
/** One of {@link TransportErrorCode}'s values. */
export type TransportErrorCode = (typeof TransportErrorCode)[keyof typeof TransportErrorCode];

/** A transport failure with one of {@link TransportErrorCode}'s codes. */
export class TransportError extends SagaError<TransportErrorCode> {}
