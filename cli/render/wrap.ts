/** Pure: `text` wrapped at spaces to lines of at most `width` characters (a word longer than that stays whole). */
export function wrap(text: string, width: number): string {
  if (!Number.isFinite(width) || width < 20) return text;
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/ +/)) {
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== '') lines.push(line);
  return lines.join('\n');
}
