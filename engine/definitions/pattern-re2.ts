/** ECMAScript's white space and line terminators (`\s`), as members of an RE2 character class. */
const ECMA_SPACE = '\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';
/** ECMAScript's `.` without the s flag: anything but a line terminator. */
const ECMA_DOT = '[^\\n\\r\\x{2028}\\x{2029}]';

/**
 * Pure: a JSON Schema pattern (ECMA-262, u flag) in RE2's syntax with the same meaning, or null
 * when it uses what RE2 cannot run or would read otherwise (a backreference, `\c`, `[^]`, `\S`
 * in a class). `\s`, `\S` and `.` are spelt out (RE2's are narrower or wider), `\uXXXX` and
 * `\u{X}` become `\x{X}`; the rest is RE2's own syntax too, or refused by RE2's compiler.
 */
export function toRe2(pattern: string): string | null {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '\\') {
      const e = pattern[++i];
      if (e === undefined) return null;
      if (e === 'u') {
        const braced = pattern[i + 1] === '{' ? /^\{([0-9a-fA-F]{1,6})\}/.exec(pattern.slice(i + 1)) : null;
        const hex = braced?.[1] ?? /^[0-9a-fA-F]{4}/.exec(pattern.slice(i + 1))?.[0];
        if (hex === undefined) return null;
        out += `\\x{${hex}}`;
        i += braced === null ? 4 : hex.length + 2;
      } else if (e === 's') {
        out += inClass ? ECMA_SPACE : `[${ECMA_SPACE}]`;
      } else if (e === 'S') {
        if (inClass) return null;
        out += `[^${ECMA_SPACE}]`;
      } else if (e === 'c' || e === 'k' || (e >= '1' && e <= '9')) {
        return null;
      } else {
        out += `\\${e}`;
      }
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      if (pattern.startsWith('[^]', i)) return null;
      inClass = true;
      out += c;
      // A `]` right after `[` or `[^` is a member in RE2 but ends an empty class in ECMA-262.
      if (pattern[i + 1] === ']' || (pattern[i + 1] === '^' && pattern[i + 2] === ']')) return null;
      continue;
    }
    out += c === '.' ? ECMA_DOT : c;
  }
  return out;
}
