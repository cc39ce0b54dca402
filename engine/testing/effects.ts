/**
 * The effect sequence of a run as the author reads it: one line per command sent, with what
 * became of it (`do charge-payment#2 timeout`), and the other happenings in between.
 */

/** A command the run sent and, once known, what became of it. */
export interface CommandRecord {
  readonly step: string;
  readonly undo: boolean;
  readonly attempt: number;
  readonly commandId: string;
  readonly at: number;
  /** `ok`, `fail`, `retryable`, `timeout`, with ` late` or ` ignored`; null while nothing came of it. */
  result: string | null;
}

/** Pure: the effect lines; `others` sit after the commands counted by their `order`. */
export function describeRun(commands: readonly CommandRecord[], others: readonly { order: number; text: string }[]): string[] {
  const out: string[] = [];
  let o = 0;
  for (const [i, c] of commands.entries()) {
    for (; o < others.length && (others[o]?.order ?? 0) <= i; o++) out.push(others[o]?.text ?? '');
    out.push(`${c.undo ? 'undo' : 'do'} ${c.step}${c.attempt === 1 ? '' : `#${c.attempt}`} ${c.result ?? 'unanswered'}`);
  }
  for (; o < others.length; o++) out.push(others[o]?.text ?? '');
  return out;
}

/** An effect line split into its parts, for matching an author's expectation against it. */
export interface EffectParts {
  readonly verb: string;
  readonly step: string | null;
  readonly attempt: number | null;
  readonly result: string | null;
}

/** Pure: `do charge-payment#2 timeout` as parts; other lines are a verb and the rest. */
export function effectParts(line: string): EffectParts {
  const m = /^(do|undo|wait|skip)\s+([a-z][a-z0-9-]*(?:\[\d+\])?(?:\.[a-z][a-z0-9-]*)?)(?:#(\d+))?(?:\s+(.*))?$/.exec(line.trim());
  if (m === null) {
    const [verb = '', ...rest] = line.trim().split(/\s+/);
    return { verb, step: null, attempt: null, result: rest.length === 0 ? null : rest.join(' ') };
  }
  return { verb: m[1] ?? '', step: m[2] ?? null, attempt: m[3] === undefined ? null : Number(m[3]), result: m[4] ?? null };
}

/**
 * Pure: true when an actual effect line fits an expected one: same verb and step, and the
 * attempt and result too where the expectation names them (`do charge-payment` fits
 * `do charge-payment#1 fail`; attempt 1 may be written `#1` or left out).
 */
export function effectMatches(expected: string, actual: string): boolean {
  const e = effectParts(expected);
  const a = effectParts(actual);
  if (e.verb !== a.verb || e.step !== a.step) return false;
  if (e.attempt !== null && e.attempt !== (a.attempt ?? 1)) return false;
  return e.result === null || e.result === a.result;
}
