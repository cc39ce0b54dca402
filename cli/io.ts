import { createInterface } from 'node:readline/promises';
import { setTimeout as delay } from 'node:timers/promises';

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

/**
 * Control characters a terminal acts on (cursor moves, screen clears, a clipboard write by
 * OSC 52, a carriage return that hides what came before), except the newline, the tab and
 * sagactl's own colours (SGR, `ESC [ ... m`): instance data, errors and dead letters come from
 * whoever may publish on a subject, and are printed.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped
const TERMINAL_CONTROL = /\u001b(?!\[[0-9;]*m)|[\u0000-\u0008\u000b-\u001a\u001c-\u001f\u007f-\u009f]/g;

/** Pure: `text` with every control character a terminal would act on written as a `\uXXXX` escape. */
export function terminalSafe(text: string): string {
  return text.replace(TERMINAL_CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
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
