/** The duration grammar: units in falling order, each at most once, like `1h30m` or `500ms`. */
export const DURATION_PATTERN =
  '^(?=\\d)(\\d+(\\.\\d+)?d)?(\\d+(\\.\\d+)?h)?(\\d+(\\.\\d+)?m)?(\\d+(\\.\\d+)?s)?(\\d+(\\.\\d+)?ms)?$';

const durationRe = new RegExp(DURATION_PATTERN);
const unitMs = [86_400_000, 3_600_000, 60_000, 1000, 1] as const;

/** Pure: milliseconds of `500ms`, `30s`, `10m`, `1h`, `1d` or `1m30s`; null when not a duration. */
export function parseDuration(text: string): number | null {
  const m = durationRe.exec(text);
  if (m === null) return null;
  let total = 0;
  // Groups 1, 3, 5, 7, 9 hold `<number><unit>` for d, h, m, s, ms.
  unitMs.forEach((ms, i) => {
    const part = m[1 + 2 * i];
    if (part !== undefined) total += parseFloat(part) * ms;
  });
  return Math.round(total);
}

/**
 * The longest duration a definition may give (100 years): a deadline past it would leave the
 * range of dates a command's `Saga-Deadline` header can carry, and no saga waits so long.
 */
export const MAX_DURATION_MS = 100 * 365.25 * 86_400_000;
