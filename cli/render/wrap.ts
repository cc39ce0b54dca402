import { displayWidth } from './width.js';

/** Pure: `text` wrapped at spaces to lines of at most `width` terminal columns (a word longer than that stays whole). */
export function wrap(text: string, width: number): string {
  if (!Number.isFinite(width) || width < 20) return text;
  const lines: string[] = [];
  let line = '';
  let used = 0;
  for (const word of text.split(/ +/)) {
    const w = displayWidth(word);
    if (line === '') {
      line = word;
      used = w;
    } else if (used + 1 + w <= width) {
      line += ` ${word}`;
      used += 1 + w;
    } else {
      lines.push(line);
      line = word;
      used = w;
    }
  }
  if (line !== '') lines.push(line);
  return lines.join('\n');
}
