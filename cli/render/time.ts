/** Times and durations as an operator reads them: short, two units at most. */

const units = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const;

/**
 * Pure: a duration in ms, short: `350ms`, `1.25s`, `12.3s`, `5m12s`, `3h07m`, `2d03h`.
 * With `coarse`, below a minute whole seconds (`42s`), as ages in lists read.
 */
export function duration(ms: number, coarse = false): string {
  const abs = Math.max(0, Math.round(ms));
  if (abs < 1000 && !coarse) return `${abs}ms`;
  if (abs < 60_000) {
    if (coarse) return `${Math.floor(abs / 1000)}s`;
    return `${(abs / 1000).toFixed(abs < 10_000 ? 2 : 1)}s`;
  }
  for (let i = 0; i < units.length - 1; i++) {
    const [big, bigMs] = units[i] as (typeof units)[number];
    const [small, smallMs] = units[i + 1] as (typeof units)[number];
    if (abs >= bigMs) {
      const b = Math.floor(abs / bigMs);
      const s = Math.floor((abs - b * bigMs) / smallMs);
      return `${b}${big}${String(s).padStart(2, '0')}${small}`;
    }
  }
  return `${abs}ms`;
}

/** Pure: how far `iso` is from `now`: `5m12s ago` or `in 3.20s`. */
export function relative(iso: string, now: number): string {
  const at = Date.parse(iso);
  const d = at - now;
  if (Math.abs(d) < 1000) return d >= 0 ? 'now' : 'just now';
  return d > 0 ? `in ${duration(d)}` : `${duration(-d)} ago`;
}

/** Pure: the age of `iso` at `now`, coarse (`42s`, `5m12s`). */
export function age(iso: string, now: number): string {
  return duration(now - Date.parse(iso), true);
}

/** Pure: `iso` as an offset from `origin`: `+0ms`, `+1.25s`, `+5m12s`. */
export function offset(iso: string, origin: string): string {
  const d = Date.parse(iso) - Date.parse(origin);
  return d < 0 ? `-${duration(-d)}` : `+${duration(d)}`;
}

/** Pure: an ISO time, readable: `2026-11-26 12:00:01Z` (milliseconds dropped). */
export function clock(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Pure: a time with its distance from now: `2026-11-26 12:00:01Z (5m12s ago)`. */
export function when(iso: string, now: number): string {
  return `${clock(iso)} (${relative(iso, now)})`;
}

/** Pure: a duration as the DSL writes it: `500ms`, `30s`, `10m`, `1m30s`, `2h`. */
export function dslDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [...units, ['ms', 1] as const]) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
