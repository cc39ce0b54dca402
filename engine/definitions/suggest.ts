/** Pure: the edit distance between two strings (insertions, deletions, substitutions). */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** Pure: the closest candidate within edit distance 2 (and shorter than both words), or null. */
export function closest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance && d < Math.min(word.length, c.length)) [best, bestDistance] = [c, d];
  }
  return best;
}

/** Pure: `did you mean \`x\`?` for a close candidate, else the fallback. */
export function didYouMean(word: string, candidates: Iterable<string>, fallback: string): string {
  const c = closest(word, candidates);
  return c === null ? fallback : `did you mean \`${c}\`?`;
}
