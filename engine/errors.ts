import type { ErrorCode } from './error-codes.js';

/**
 * The one error class of sagad: a stable `SAGA_ERR_*` code from the catalogue (`error-codes.ts`; tests check it, not the message)
 * and the underlying error chained as `cause`. Areas narrow `code` with their own subclass.
 */
export class SagaError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
