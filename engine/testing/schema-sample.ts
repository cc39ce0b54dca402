/**
 * Sample values from JSON Schemas: the smallest plausible value a schema accepts, so generated
 * scenarios can run a saga whose trigger or replies have a schema without an input file.
 * Best effort: a schema this does not understand gives a value it may reject, and the scenario
 * then reports the schema error the core raises, which is itself worth seeing.
 */

type Schema = Record<string, unknown>;

const isRecord = (v: unknown): v is Schema => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Pure: a value the schema probably accepts; `root` resolves local `$ref`s (`#/definitions/x`). */
export function sampleFromSchema(schema: unknown, hint = 'sample', root: unknown = schema, depth = 0): unknown {
  if (!isRecord(schema) || depth > 12) return null;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if ('default' in schema) return schema.default;
  if (typeof schema.$ref === 'string') return sampleFromSchema(resolveRef(schema.$ref, root), hint, root, depth + 1);
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) return sampleFromSchema(options[0], hint, root, depth + 1);
  }
  if (Array.isArray(schema.allOf)) {
    const parts = schema.allOf.map((s) => sampleFromSchema(s, hint, root, depth + 1));
    return parts.every(isRecord) ? Object.assign({}, ...parts) as unknown : parts[0] ?? null;
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') ?? schema.type[0] : schema.type;
  switch (type ?? (isRecord(schema.properties) ? 'object' : undefined)) {
    case 'object': return sampleObject(schema, root, depth);
    case 'array': {
      const min = typeof schema.minItems === 'number' ? Math.max(1, schema.minItems) : 1;
      return Array.from({ length: min }, () => sampleFromSchema(schema.items ?? {}, hint, root, depth + 1));
    }
    case 'string': return sampleString(schema, hint);
    case 'integer':
    case 'number': return sampleNumber(schema, type === 'integer');
    case 'boolean': return true;
    case 'null': return null;
    default: return hint;
  }
}

function resolveRef(ref: string, root: unknown): unknown {
  if (!ref.startsWith('#')) return {};
  let node: unknown = root;
  for (const part of ref.slice(1).split('/').filter((p) => p !== '')) {
    node = isRecord(node) ? node[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  }
  return node ?? {};
}

function sampleObject(schema: Schema, root: unknown, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const props = isRecord(schema.properties) ? schema.properties : {};
  // Every declared property, not only the required ones: expressions read the optional ones too.
  for (const [key, sub] of Object.entries(props)) out[key] = sampleFromSchema(sub, key, root, depth + 1);
  if (Array.isArray(schema.required)) {
    for (const key of schema.required) if (typeof key === 'string' && !(key in out)) out[key] = key;
  }
  return out;
}

function sampleNumber(schema: Schema, integer: boolean): number {
  const min = typeof schema.minimum === 'number' ? schema.minimum
    : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + (integer ? 1 : 0.5) : null;
  const max = typeof schema.maximum === 'number' ? schema.maximum
    : typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum - (integer ? 1 : 0.5) : null;
  let n = min !== null ? Math.max(min, 1) : 1;
  if (max !== null && n > max) n = min ?? max;
  if (integer) n = Math.ceil(n);
  return typeof schema.multipleOf === 'number' && schema.multipleOf > 0 ? Math.ceil(n / schema.multipleOf) * schema.multipleOf : n;
}

const formats: Record<string, string> = {
  'date-time': '2026-01-01T00:00:00Z', date: '2026-01-01', time: '00:00:00Z', email: 'someone@example.com',
  uri: 'https://example.com/', 'uri-reference': '/sample', uuid: '00000000-0000-4000-8000-000000000000',
  hostname: 'example.com', ipv4: '192.0.2.1', ipv6: '2001:db8::1', duration: 'PT1M',
};

function sampleString(schema: Schema, hint: string): string {
  if (typeof schema.format === 'string' && formats[schema.format] !== undefined) return formats[schema.format] ?? hint;
  let s = typeof schema.pattern === 'string' ? (sampleFromPattern(schema.pattern) ?? hint) : hint;
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity;
  while (s.length < min) s += 'x';
  return s.length > max ? s.slice(0, max) : s;
}

/**
 * Pure: a string matching a simple regular expression (anchors, literals, classes like
 * `[A-Z]`, `\d`, `\w`, and the quantifiers `{n}`, `{n,m}`, `?`, `*`, `+`), else null.
 */
export function sampleFromPattern(pattern: string): string | null {
  let out = '';
  let i = 0;
  const src = pattern.replace(/^\^/, '').replace(/\$$/, '');
  while (i < src.length) {
    let atom: string;
    const c = src[i] ?? '';
    if (c === '[') {
      const end = src.indexOf(']', i + 1);
      if (end < 0) return null;
      const body = src.slice(i + 1, end);
      if (body.startsWith('^')) return null;
      atom = body.startsWith('\\') ? classOf(body[1] ?? '') ?? '' : body[0] ?? '';
      if (atom === '') return null;
      i = end + 1;
    } else if (c === '\\') {
      atom = classOf(src[i + 1] ?? '') ?? src[i + 1] ?? '';
      i += 2;
    } else if ('()|.'.includes(c)) {
      return null;
    } else {
      atom = c;
      i++;
    }
    const q = /^(\{(\d+)(,(\d*))?\}|[?*+])/.exec(src.slice(i));
    let times = 1;
    if (q !== null) {
      i += q[0].length;
      if (q[0] === '?' || q[0] === '*') times = 0;
      else if (q[0] === '+') times = 1;
      else times = Number(q[2]);
    }
    out += atom.repeat(times);
  }
  return out;
}

function classOf(escape: string): string | null {
  return escape === 'd' ? '0' : escape === 'w' ? 'a' : escape === 's' ? ' ' : null;
}
