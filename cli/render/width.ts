/**
 * How many terminal columns text takes: CJK and other East Asian Wide or Fullwidth characters
 * take two, combining marks and zero-width characters none. Text is measured and cut by
 * grapheme cluster (a base character with its combining marks, an emoji sequence), so a cut
 * never separates an accent from its letter.
 */

// East Asian Wide (W) and Fullwidth (F) ranges of Unicode 15 (UAX #11), merged where adjacent;
// emoji are found by their property below. Ambiguous characters (`…`, `→`, `∞`) count one, as
// in most Western terminals.
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], [0x2329, 0x232a], [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf],
  [0x4e00, 0x9fff], [0xa000, 0xa4cf], [0xa960, 0xa97f], [0xac00, 0xd7a3], [0xf900, 0xfaff],
  [0xfe10, 0xfe19], [0xfe30, 0xfe6f], [0xff00, 0xff60], [0xffe0, 0xffe6], [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff], [0x1b000, 0x1b2ff], [0x1f200, 0x1f2ff], [0x20000, 0x2fffd], [0x30000, 0x3fffd],
];

const EMOJI = /\p{Emoji_Presentation}/u;
/** Nonspacing marks (variation selectors too), enclosing marks, format characters (ZWJ, ZWNJ, ZWSP, word joiner, BOM, soft hyphen). */
const ZERO = /^[\p{Mn}\p{Me}\p{Cf}]$/u;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function isWide(code: number): boolean {
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [from, to] = WIDE[mid] ?? [0, 0];
    if (code < from) hi = mid - 1;
    else if (code > to) lo = mid + 1;
    else return true;
  }
  return false;
}

/** The columns of one grapheme cluster: its first character decides, an emoji presentation selector makes it two. */
function clusterWidth(cluster: string): number {
  const first = cluster.codePointAt(0) ?? 0;
  const base = String.fromCodePoint(first);
  if (ZERO.test(base)) return 0;
  if (isWide(first) || EMOJI.test(base) || cluster.includes('\ufe0f')) return 2;
  return 1;
}

/** Pure: the grapheme clusters of `s`, in order. */
export function graphemes(s: string): string[] {
  return Array.from(segmenter.segment(s), (g) => g.segment);
}

/** Pure: the columns `s` takes on a terminal (text without escape sequences). */
export function displayWidth(s: string): number {
  // Printable ASCII, the usual case, is one column a character.
  if (/^[\x20-\x7e]*$/.test(s)) return s.length;
  let w = 0;
  for (const g of graphemes(s)) w += clusterWidth(g);
  return w;
}

/** Pure: `s` shortened to at most `width` columns on a grapheme boundary, ending in `…` when cut. */
export function truncate(s: string, width: number): string {
  if (displayWidth(s) <= width) return s;
  const room = width <= 1 ? width : width - 1;
  let out = '';
  let used = 0;
  for (const g of graphemes(s)) {
    const w = clusterWidth(g);
    if (used + w > room) break;
    out += g;
    used += w;
  }
  return width <= 1 ? out : `${out}…`;
}
