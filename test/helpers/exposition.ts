/** A reader of the Prometheus text exposition format, as a scraper reads it, for the metrics tests. */

/** One parsed scrape: each series' value by its name and labels, and each family's TYPE and HELP. */
export interface Scrape {
  /** `name{a="x",b="y"}` (labels sorted by name) -> value. */
  readonly series: ReadonlyMap<string, number>;
  readonly types: ReadonlyMap<string, string>;
  readonly help: ReadonlyMap<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The key of a series: its name and its labels sorted by name, as `name{a="x",b="y"}`. */
export function seriesKey(name: string, labels: Readonly<Record<string, string>> = {}): string {
  const parts = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v}"`);
  return parts.length === 0 ? name : `${name}{${parts.join(',')}}`;
}

/** Parses exposition text; throws on a line that is neither a comment nor a sample. */
export function parseExposition(text: string): Scrape {
  const series = new Map<string, number>();
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta !== null) {
      (meta[1] === 'TYPE' ? types : help).set(meta[2] ?? '', meta[3] ?? '');
      continue;
    }
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] ?? ''] = l[2] ?? '';
    const raw = m[3] ?? '';
    series.set(seriesKey(m[1] ?? '', labels), raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw));
  }
  return { series, types, help };
}

/** The value of one series, or undefined when the scrape has none. */
export function valueOf(s: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  return s.series.get(seriesKey(name, labels));
}

/** The metric family names (TYPE lines) of a scrape. */
export function families(s: Scrape): string[] {
  return [...s.types.keys()];
}
