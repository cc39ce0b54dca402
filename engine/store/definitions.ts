import type Database from 'better-sqlite3';

/** Every definition version ever loaded, by content hash: a running instance's pinned definition survives a file change. */
export interface Definitions {
  /** Stores the source under its hash; a hash already stored keeps its first source and time. */
  rememberDefinition(hash: string, name: string, source: string, at?: number): void;
  /** The source stored under `hash`, or undefined. */
  getDefinitionSource(hash: string): string | undefined;
  /** Every stored definition version (without source), oldest first. */
  listDefinitions(): { hash: string; name: string; firstSeenAt: number }[];
  /** Definition hashes of the instances that may still take an input (see `INPUT_STATUSES`). */
  hashesInUse(): string[];
}

/**
 * The states in which an instance may still take an input: running and compensating ones take
 * replies and timers, a failed one an operator's retry, a compensated one a late success
 * (which reopens it). Only a completed instance takes none.
 */
export const INPUT_STATUSES = ['running', 'compensating', 'failed', 'compensated'] as const;

/** Prepares the definition statements once. */
export function definitions(db: Database.Database): Definitions {
  const put = db.prepare<[string, string, string, number]>(
    'INSERT INTO definitions (hash, name, source, first_seen_at) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING');
  const get = db.prepare<[string], { source: string }>('SELECT source FROM definitions WHERE hash = ?');
  const all = db.prepare<[], { hash: string; name: string; firstSeenAt: number }>(
    'SELECT hash, name, first_seen_at AS firstSeenAt FROM definitions ORDER BY first_seen_at, hash');
  // From the counts the triggers keep (migrations 4 and 10): a handful of rows, however many instances.
  const inUse = db.prepare<[], { hash: string }>(
    `SELECT DISTINCT definition_hash AS hash FROM instance_counts
      WHERE status IN (${INPUT_STATUSES.map((x) => `'${x}'`).join(', ')}) AND count > 0 ORDER BY 1`);
  return {
    hashesInUse: () => inUse.all().map((r) => r.hash),
    rememberDefinition: (hash, name, source, at = Date.now()) => void put.run(hash, name, source, at),
    getDefinitionSource: (hash) => get.get(hash)?.source,
    listDefinitions: () => all.all(),
  };
}
