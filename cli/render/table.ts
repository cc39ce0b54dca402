import { shown } from './escape.js';
import { plain } from './style.js';
import { displayWidth, truncate } from './width.js';

export { truncate } from './width.js';

/** A column of a table; `shrink` columns give up width first when the terminal is narrow, `drop` columns go next. */
export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
  readonly shrink?: boolean;
  /** Narrowest a shrinking column gets before a `drop` column is left out; default 8. */
  readonly min?: number;
  /** The column may be left out when the table does not fit: 1 goes first, then 2, and so on. */
  readonly drop?: number;
}

/** A cell: its text (data: its control characters are escaped) and, optionally, how to paint it (applied after any shortening). */
export type Cell = string | { readonly text: string; readonly paint?: (s: string) => string };

const GAP = 2;
/** Narrowest any shrinking column gets once every `drop` column is out. */
const FLOOR = 4;

const textOf = (c: Cell): string => (typeof c === 'string' ? c : c.text);

/** Columns a terminal gives the text: colour codes none, wide characters two, combining marks none. */
const len = (s: string): number => displayWidth(plain(s));

/** The table's width with the columns `visible` at `widths`. */
const total = (widths: readonly number[], visible: readonly number[]): number =>
  visible.reduce((a, i) => a + (widths[i] ?? 0), 0) + GAP * (visible.length - 1);

/** The widths of the columns `visible` (indexes) within `width`: the widest one above its `mins` loses a column at a time. */
function fit(natural: readonly number[], mins: readonly number[], visible: readonly number[], width: number): number[] {
  const widths = [...natural];
  while (total(widths, visible) > width) {
    let widest = -1;
    for (const i of visible) {
      if ((widths[i] ?? 0) > (mins[i] ?? 0) && (widest < 0 || (widths[i] ?? 0) > (widths[widest] ?? 0))) widest = i;
    }
    if (widest < 0) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  return widths;
}

/**
 * Which columns to show and how wide: shrinking columns down to their `min` first; then, while
 * that is not enough, the `drop` columns left out in their order; then shrinking columns down
 * to {@link FLOOR}. What still does not fit (a long id) runs past the width.
 */
function layout(columns: readonly Column[], natural: readonly number[], width: number): { visible: number[]; widths: number[] } {
  const mins = columns.map((c, i) => (c.shrink === true ? Math.min(natural[i] ?? 0, Math.max(c.min ?? 8, 1)) : natural[i] ?? 0));
  const floors = mins.map((m, i) => (columns[i]?.shrink === true ? Math.min(m, FLOOR) : m));
  const droppable = columns.flatMap((c, i) => (c.drop === undefined ? [] : [{ i, order: c.drop }]))
    .sort((a, b) => a.order - b.order).map((d) => d.i);
  let visible = columns.map((_, i) => i);
  for (const next of droppable) {
    const widths = fit(natural, mins, visible, width);
    if (total(widths, visible) <= width) return { visible, widths };
    visible = visible.filter((i) => i !== next);
  }
  const widths = fit(natural, mins, visible, width);
  return { visible, widths: total(widths, visible) <= width ? widths : fit(widths, floors, visible, width) };
}

/**
 * Pure: a plain-text table, headers first, columns two spaces apart, empty cells as `-`.
 * Cells are one line (newlines become spaces), their control characters escaped ({@link shown}).
 * Widths are terminal columns (a CJK character two, a combining mark none). When the natural
 * width exceeds `width`, the widest `shrink` column loses a column at a time down to its
 * minimum, its cells cut with `…` on a character boundary; then `drop` columns are left out;
 * then the shrinking columns go down to 4.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly Cell[])[], width = Infinity): string {
  const cells = rows.map((r) => columns.map((_, i) => {
    const c = r[i] ?? '';
    const text = shown(textOf(c).replace(/\s*\n\s*/g, ' '));
    return { text: text === '' ? '-' : text, paint: typeof c === 'string' ? undefined : c.paint };
  }));
  const natural = columns.map((col, i) => Math.max(len(col.header), ...cells.map((r) => len(r[i]?.text ?? ''))));
  const { visible, widths } = layout(columns, natural, width);
  const line = (texts: readonly { text: string; paint?: ((s: string) => string) | undefined }[]): string => visible.map((i, n) => {
    const c = texts[i] ?? { text: '' };
    const w = widths[i] ?? 0;
    const cut = truncate(c.text, w);
    const pad = ' '.repeat(Math.max(0, w - len(cut)));
    const painted = c.paint === undefined ? cut : c.paint(cut);
    if (columns[i]?.align === 'right') return pad + painted;
    return n === visible.length - 1 ? painted : painted + pad;
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
