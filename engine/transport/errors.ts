/** Stable codes of transport failures, in the `SAGA_ERR_*` family. */
export const TransportErrorCode = {
  StreamMissing: 'SAGA_ERR_STREAM_MISSING',
  StreamSetup: 'SAGA_ERR_STREAM_SETUP',
  ConsumerSetup: 'SAGA_ERR_CONSUMER_SETUP',
  NatsUnavailable: 'SAGA_ERR_NATS_UNAVAILABLE',
} as const;
/** One of {@link TransportErrorCode}'s values. */
export type TransportErrorCode = (typeof TransportErrorCode)[keyof typeof TransportErrorCode];

/** An I/O or configuration failure of the NATS transport, with a stable code and the cause chained. */
export class TransportError extends Error {
  readonly code: TransportErrorCode;

  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
    this.code = code;
  }
}
