import { shown } from './escape.js';
import { plain } from './style.js';

/** A column of a table; `shrink` columns give up width first when the terminal is narrow. */
export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
  readonly shrink?: boolean;
  /** Narrowest a shrinking column gets; default 8 (or its header's width when shorter). */
  readonly min?: number;
}

/** A cell: its text (data: its control characters are escaped) and, optionally, how to paint it (applied after any shortening). */
export type Cell = string | { readonly text: string; readonly paint?: (s: string) => string };

const GAP = 2;

const textOf = (c: Cell): string => (typeof c === 'string' ? c : c.text);

/** Pure: `s` shortened to `width` characters, ending in `…` when cut. */
export function truncate(s: string, width: number): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  if (width <= 1) return chars.slice(0, width).join('');
  return `${chars.slice(0, width - 1).join('')}…`;
}

const len = (s: string): number => [...plain(s)].length;

/**
 * Pure: a plain-text table, headers first, columns two spaces apart, empty cells as `-`.
 * Cells are one line (newlines become spaces), their control characters escaped ({@link shown}).
 * When the natural width exceeds `width`, the widest `shrink` column loses a character at a
 * time down to its minimum, its cells cut with `…`.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly Cell[])[], width = Infinity): string {
  const cells = rows.map((r) => columns.map((_, i) => {
    const c = r[i] ?? '';
    const text = shown(textOf(c).replace(/\s*\n\s*/g, ' '));
    return { text: text === '' ? '-' : text, paint: typeof c === 'string' ? undefined : c.paint };
  }));
  const widths = columns.map((col, i) => Math.max(len(col.header), ...cells.map((r) => len(r[i]?.text ?? ''))));
  const mins = columns.map((col, i) => (col.shrink === true ? Math.min(widths[i] ?? 0, Math.max(col.min ?? 8, 1)) : widths[i] ?? 0));
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP * (columns.length - 1);
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < columns.length; i++) {
      if ((widths[i] ?? 0) > (mins[i] ?? 0) && (widest < 0 || (widths[i] ?? 0) > (widths[widest] ?? 0))) widest = i;
    }
    if (widest < 0) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  const line = (texts: { text: string; paint?: ((s: string) => string) | undefined }[]): string => texts.map((c, i) => {
    const w = widths[i] ?? 0;
    const cut = truncate(c.text, w);
    const pad = ' '.repeat(Math.max(0, w - len(cut)));
    const painted = c.paint === undefined ? cut : c.paint(cut);
    const last = i === texts.length - 1;
    if (columns[i]?.align === 'right') return pad + painted;
    return last ? painted : painted + pad;
  }).join(' '.repeat(GAP)).trimEnd();
  const header = line(columns.map((c) => ({ text: c.header })));
  return `${[header, ...cells.map(line)].join('\n')}\n`;
}

/**
 * Pure: `label  value` lines with the labels padded to one width (describe's header block). A
 * value is data, as a cell: its control characters escaped, shortened to the width, then painted.
 */
export function renderFields(fields: readonly (readonly [string, Cell])[], width = Infinity): string {
  const w = Math.max(0, ...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => {
    const room = width - w - 2;
    const text = shown(textOf(v));
    const cut = Number.isFinite(room) && room > 10 && len(text) > room ? truncate(text, room) : text;
    const value = typeof v === 'string' || v.paint === undefined ? cut : v.paint(cut);
    return `${`${k}:`.padEnd(w + 2)}${value}`;
  }).join('\n') + '\n';
}
