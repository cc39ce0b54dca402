import { createInterface } from 'node:readline/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { terminalSafe } from './render/escape.js';

export { shown, terminalSafe } from './render/escape.js';

/** Exit codes of every sagactl command. */
export const ExitCode = { ok: 0, error: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Where a command writes and what it knows of its terminal; tests pass their own to capture
 * output and to fix the clock, the width and whether a terminal is there.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal: colour (unless NO_COLOR) and tables fitted to `columns`. */
  readonly isTTY?: boolean;
  /** Width of the terminal in characters. */
  readonly columns?: number;
  /** The environment (SAGA_SERVER, SAGA_API_TOKEN, NO_COLOR, COLUMNS); default none. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Epoch ms now; default the wall clock. */
  now?(): number;
  /** Asks the person at the terminal; absent when nobody can answer (stdin is not a terminal). */
  ask?(question: string): Promise<string>;
  /** Waits between polls (`history --follow`); default a real timer. */
  sleep?(ms: number): Promise<void>;
}

/** The same Io, writing only what {@link terminalSafe} lets through. */
export function safeIo(io: Io): Io {
  return { ...io, out: (text) => io.out(terminalSafe(text)), err: (text) => io.err(terminalSafe(text)) };
}

async function askTerminal(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/** The real process: stdout, stderr, its terminal and environment. */
export const processIo: Io = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  isTTY: process.stdout.isTTY === true,
  columns: process.stdout.columns,
  env: process.env,
  now: () => Date.now(),
  ...(process.stdin.isTTY === true ? { ask: askTerminal } : {}),
  sleep: (ms) => delay(ms),
};
