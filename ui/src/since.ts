/** The instance list's `since` filter: presets back from now, or a local date-time. Pure. */

/** `since` presets of the form, as ms back from now. */
export const SINCE: readonly (readonly [string, string, number])[] = [
  ['', 'any time', 0], ['15m', 'last 15 minutes', 15 * 60_000], ['1h', 'last hour', 3_600_000],
  ['24h', 'last 24 hours', 86_400_000], ['7d', 'last 7 days', 7 * 86_400_000],
];

/** Pure: the API's `until` (ISO) for the form's local date-time, or undefined when empty or unreadable. */
export function untilParam(until: string | undefined): string | undefined {
  if (until === undefined || until === '') return undefined;
  const ms = Date.parse(until);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** Pure: the API's `since` (ISO) for the form's value: a preset, or a local date-time. */
export function sinceParam(since: string | undefined, now: number): string | undefined {
  if (since === undefined || since === '') return undefined;
  const preset = SINCE.find(([k]) => k === since);
  if (preset !== undefined) return new Date(now - preset[2]).toISOString();
  const ms = Date.parse(since);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}
