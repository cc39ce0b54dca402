import { createHash } from 'node:crypto';

/** Pure: JSON with object keys sorted at every level, so equal data gives equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Pure: the stored form of a saga, canonical JSON of its YAML data and the text of its schema files. */
export function sagaSource(raw: unknown, schemaFiles: Readonly<Record<string, string>>): string {
  return canonicalJson({ definition: raw, schemaFiles });
}

/** Pure: the content hash of a saga's stored form (sha256 hex). */
export function sourceHash(source: string): string {
  return createHash('sha256').update(source).digest('hex');
}
