/** Terminal colours, applied only when the caller decided colour is wanted (a TTY without NO_COLOR). */
export interface Style {
  readonly enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
  /** The colour of an instance, step or compensation state. */
  state(s: string): string;
}

const sgr = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;

const stateColour: Readonly<Record<string, keyof Omit<Style, 'enabled' | 'state'>>> = {
  completed: 'green', succeeded: 'green', compensated: 'yellow',
  running: 'cyan', retrying: 'yellow', compensating: 'magenta',
  failed: 'red', timed_out: 'red', compensation_failed: 'red',
  pending: 'dim', skipped: 'dim',
};

/** Pure: a style that colours, or one that returns every string unchanged. */
export function makeStyle(enabled: boolean): Style {
  const id = (s: string) => s;
  const base = enabled
    ? { bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39), cyan: sgr(36, 39), magenta: sgr(35, 39) }
    : { bold: id, dim: id, red: id, green: id, yellow: id, cyan: id, magenta: id };
  return {
    enabled, ...base,
    state: (s) => {
      const c = stateColour[s];
      return c === undefined ? s : base[c](s);
    },
  };
}

/** Pure: whether to colour: only on a terminal, and never when NO_COLOR is set to anything but empty. */
export function wantsColour(isTTY: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  return isTTY && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

// eslint-disable-next-line no-control-regex
const ansi = /\u001b\[[0-9;]*m/g;

/** Pure: the text without colour codes. */
export function plain(s: string): string {
  return s.replace(ansi, '');
}
