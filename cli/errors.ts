import { ExitCode } from './io.js';
import { shown } from './render/escape.js';

/**
 * A failure sagactl reports as one sentence and a hint, never a stack trace: exit 1 for an
 * error, 2 for a usage error (bad arguments, or a question nobody can answer).
 */
export class CliError extends Error {
  constructor(message: string, readonly hint?: string, readonly exitCode: ExitCode = ExitCode.error) {
    super(message);
    this.name = 'CliError';
  }
}

/** A usage error: the arguments cannot work, whatever the server says. */
export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, hint, ExitCode.usage);
}

/**
 * Pure: the lines printed for a failure: `sagactl: sentence` and, when known, `Hint: ...`. They
 * quote the server's messages and ids, so control characters are escaped ({@link shown}).
 */
export function formatFailure(err: CliError): string {
  const sentence = shown(err.message.replace(/\s*\n\s*/g, ' ').trim());
  // A hint that starts with a command to type keeps its case: `sagactl`, not `Sagactl`.
  const hint = err.hint === undefined ? '' : `Hint: ${shown(/^sagactl\b/.test(err.hint) ? err.hint : `${err.hint.charAt(0).toUpperCase()}${err.hint.slice(1)}`)}\n`;
  return `sagactl: ${sentence}\n${hint}`;
}
