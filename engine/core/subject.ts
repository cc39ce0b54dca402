/** True when every subject matched by `subject` is also matched by the subject `pattern` (NATS wildcards `*` and `>`). */
export function subjectCovers(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const pt = p[i];
    const st = s[i];
    if (pt === '>') return st !== undefined;
    if (st === undefined || st === '>') return false;
    if (pt !== '*' && (st === '*' || pt !== st)) return false;
  }
  return s.length === p.length;
}
