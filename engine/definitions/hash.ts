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

/** Pure: sha256 hex of a saga's YAML data and the text of its schema files. */
export function sagaHash(raw: unknown, schemaFiles: Readonly<Record<string, string>>): string {
  return createHash('sha256').update(canonicalJson({ definition: raw, schemaFiles })).digest('hex');
}
