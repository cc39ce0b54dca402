/**
 * Where inspecting commands read instances: the HTTP API, or a database file opened
 * read-only (`--db`). Both give the API's documents, built by the same pure views.
 */
import { dirname, join } from 'node:path';
import type { DefinitionDetail, DurationsDocument, HistoryEntryDocument, InstanceDocument, InstanceSummaryDocument, StatsDocument } from '../engine/api/documents.js';
import { definitionDetail, durationsDocument, historyEntry, instanceDocument, instanceSummary, statsDocument } from '../engine/api/documents.js';
import type { CompiledSaga, InstanceStatus } from '../engine/core/index.js';
import { compileSagaSource } from '../engine/definitions/index.js';
import { SagaError } from '../engine/errors.js';
import { openStore, type Page, type Store } from '../engine/store/index.js';
import { isPostgresUrl, openStorePort, redact } from '../engine/store/open.js';
import type { StorePort } from '../engine/store/port.js';
import { ApiCallError, type ApiClient } from './client.js';
import { CliError, usageError } from './errors.js';
import { shellWord } from './options.js';

/** Filters and paging of `list`; `since` is epoch ms. */
export interface InstanceQuery {
  readonly saga?: string | undefined;
  readonly state?: InstanceStatus | undefined;
  readonly key?: string | undefined;
  readonly correlationId?: string | undefined;
  readonly since?: number | undefined;
  readonly until?: number | undefined;
  readonly limit: number;
  readonly cursor?: string | undefined;
}

/** What the inspecting commands read; every method throws CliError with a hint. */
export interface Source {
  /** `sagad at URL` or `database FILE`, for sentences. */
  readonly where: string;
  readonly offline: boolean;
  list(q: InstanceQuery): Promise<Page<InstanceSummaryDocument>>;
  /** The instance document with its pending timers. */
  instance(id: string): Promise<InstanceDocument>;
  history(id: string): Promise<HistoryEntryDocument[]>;
  /** The definition the instance runs, by saga and hash; undefined when it cannot be had. */
  definition(saga: string, hash: string): Promise<DefinitionDetail | undefined>;
  stats(): Promise<StatsDocument>;
  /** Saga times of the instances started since `since` (epoch ms) that finished: the API's `GET /v1/stats/durations`. */
  durations(since: number): Promise<DurationsDocument>;
  close(): void;
}

/** Where retention may have put an instance, as far as sagactl can tell: a directory, or DIR and what it is. */
interface ArchiveGuess { readonly dir: string; readonly note: string }

const serverArchive = (byDefault: string): ArchiveGuess => ({
  dir: 'DIR', note: `, DIR being the server's SAGA_ARCHIVE_DIR (default ${byDefault})`,
});

/** Not found where it was looked for: a wrong id, or one that retention archived, then deleted. */
function noInstance(id: string, where: string, flags: string, archive: ArchiveGuess): CliError {
  const archived = `\`sagactl describe ${shellWord(id)} --archive ${archive.dir}\`${archive.note}`;
  return new CliError(`no instance ${id} in ${where}`, `\`sagactl list${flags}\` shows the instances; ids are matched exactly. If retention archived it: ${archived}`);
}

function badCursor(): CliError {
  return usageError('the --cursor was not handed out by this list', 'use the nextCursor a previous page printed, or leave --cursor out to start from the newest');
}

/** Reads through the HTTP API. */
export function httpSource(client: ApiClient): Source {
  const where = `sagad at ${client.server}`;
  const archive = serverArchive('archive/ beside its SQLite file');
  const notFound = (id: string) => (err: unknown): never => {
    if (err instanceof ApiCallError && err.failure.code === 'SAGA_ERR_NOT_FOUND') throw noInstance(id, where, '', archive);
    throw err;
  };
  return {
    where, offline: false,
    list: (q) => client.get<Page<InstanceSummaryDocument>>('/v1/instances', {
      saga: q.saga, state: q.state, key: q.key, correlationId: q.correlationId,
      since: q.since === undefined ? undefined : new Date(q.since).toISOString(),
      until: q.until === undefined ? undefined : new Date(q.until).toISOString(), limit: q.limit, cursor: q.cursor,
    }).catch((err: unknown) => {
      if (err instanceof ApiCallError && err.failure.code === 'SAGA_ERR_BAD_CURSOR') throw badCursor();
      throw err;
    }),
    instance: (id) => client.get<InstanceDocument>(`/v1/instances/${encodeURIComponent(id)}`).catch(notFound(id)),
    history: (id) => client.get<{ items: HistoryEntryDocument[] }>(`/v1/instances/${encodeURIComponent(id)}/history`).then((r) => r.items, notFound(id)),
    definition: (saga, hash) => client.get<DefinitionDetail>(`/v1/definitions/${encodeURIComponent(saga)}`, { hash }).catch((err: unknown) => {
      if (err instanceof ApiCallError && (err.failure.code === 'SAGA_ERR_UNKNOWN_SAGA' || err.failure.code === 'SAGA_ERR_VALIDATION')) return undefined;
      throw err;
    }),
    stats: () => client.get<StatsDocument>('/v1/stats'),
    durations: (since) => client.get<DurationsDocument>('/v1/stats/durations', { since: new Date(since).toISOString() }),
    close: () => undefined,
  };
}

/** Opens `file` read-only; a missing file, a foreign file or another schema version is a CliError. */
function openReadonly(file: string): Store {
  try {
    return openStore(file, { readonly: true });
  } catch (err) {
    const code = err instanceof SagaError ? err.code : (err as { code?: unknown }).code;
    if (code === 'SAGA_ERR_NOT_FOUND') throw new CliError(`the database ${file} does not exist`, 'give the path of a sagad database (SAGA_DB of the server, default ./data/sagad.db)');
    if (code === 'SAGA_ERR_SCHEMA_VERSION') throw new CliError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, 'read it with the sagactl of the sagad version that wrote it');
    throw new CliError(`cannot read ${file} as a sagad database (${err instanceof Error ? err.message : String(err)})`, 'give the path of a sagad database (SAGA_DB of the server, default ./data/sagad.db)');
  }
}

/** Wraps a synchronous store read: a SQLite failure becomes a sentence about the file. */
function reading<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof SagaError && err.code === 'SAGA_ERR_BAD_CURSOR') throw badCursor();
    throw new CliError(`cannot read ${file} (${err instanceof Error ? err.message : String(err)})`, 'is it a sagad database? sagactl opens it read-only and never changes it');
  }
}

/**
 * Reads a database directly, read-only: a SQLite file (no write lock, safe beside a running
 * server) or a PostgreSQL URL (read-only sessions). Definitions come from the sources stored by hash.
 */
export function dbSource(db: string): Source {
  return isPostgresUrl(db) ? postgresSource(db) : sqliteSource(db);
}

/** Reads the PostgreSQL store through the store port, opened read-only on first use. */
function postgresSource(url: string): Source {
  const where = `database ${redact(url)}`;
  const flags = ` --db ${redact(url)}`;
  const archive = serverArchive('./data/archive with PostgreSQL');
  let opened: Promise<StorePort> | null = null;
  const port = (): Promise<StorePort> => (opened ??= openStorePort(url, { readonly: true }));
  const reading = async <T>(fn: (store: StorePort) => Promise<T>): Promise<T> => {
    try {
      return await fn(await port());
    } catch (err) {
      if (err instanceof CliError) throw err;
      if (err instanceof SagaError && err.code === 'SAGA_ERR_BAD_CURSOR') throw badCursor();
      throw new CliError(`cannot read ${where} (${err instanceof Error ? err.message : String(err)})`, 'check the URL, the password (PGPASSWORD) and that sagad created the schema there');
    }
  };
  const compiled = new Map<string, CompiledSaga | undefined>();
  const defOf = async (store: StorePort, hash: string): Promise<CompiledSaga | undefined> => {
    if (!compiled.has(hash)) {
      const source = await store.getDefinitionSource(hash);
      const r = source === undefined ? undefined : compileSagaSource(source);
      compiled.set(hash, r?.ok === true ? r.saga : undefined);
    }
    return compiled.get(hash);
  };
  return {
    where, offline: true,
    list: (q) => reading(async (store) => {
      const page = await store.listInstances({
        saga: q.saga, status: q.state, key: q.key, correlationId: q.correlationId, since: q.since, until: q.until, limit: q.limit, cursor: q.cursor ?? null,
      });
      return { items: page.items.map(instanceSummary), nextCursor: page.nextCursor };
    }),
    instance: (id) => reading(async (store) => {
      const state = await store.getInstance(id);
      if (state === undefined) throw noInstance(id, where, flags, archive);
      return instanceDocument(state, await defOf(store, state.definitionHash), await store.timersOf(id));
    }),
    history: (id) => reading(async (store) => {
      const entries = await store.history(id);
      if (entries.length === 0 && (await store.getInstance(id)) === undefined) throw noInstance(id, where, flags, archive);
      return entries.map(historyEntry);
    }),
    definition: (saga, hash) => reading(async (store) => {
      const def = await defOf(store, hash);
      return def === undefined || def.name !== saga ? undefined : definitionDetail(def);
    }),
    stats: () => reading(async (store) => {
      const g = await store.gauges();
      return statsDocument({
        instances: g.instances.map((r) => ({ saga: r.saga, state: r.status, count: r.count })),
        timersPending: g.timersPending, outboxBacklog: g.outboxBacklog, deadLetters: g.deadLetters, consumerLag: null,
      });
    }),
    durations: (since) => reading(async (store) => durationsDocument(since, Date.now(), await store.sagaDurations(since))),
    close: () => {
      void opened?.then((store) => store.close(), () => undefined);
    },
  };
}

/** Reads a SQLite file read-only, each document in one read transaction. */
function sqliteSource(file: string): Source {
  const store = openReadonly(file);
  const where = `database ${file}`;
  const compiled = new Map<string, CompiledSaga | undefined>();
  const defOf = (hash: string): CompiledSaga | undefined => {
    if (!compiled.has(hash)) {
      const source = store.getDefinitionSource(hash);
      const r = source === undefined ? undefined : compileSagaSource(source);
      compiled.set(hash, r?.ok === true ? r.saga : undefined);
    }
    return compiled.get(hash);
  };
  const flags = ` --db ${file}`;
  const archive: ArchiveGuess = { dir: shellWord(join(dirname(file), 'archive')), note: ' (or the server\'s SAGA_ARCHIVE_DIR, if it sets one)' };
  return {
    where, offline: true,
    list: async (q) => reading(file, () => {
      const page = store.listInstances({
        saga: q.saga, status: q.state, key: q.key, correlationId: q.correlationId, since: q.since, until: q.until, limit: q.limit, cursor: q.cursor ?? null,
      });
      return { items: page.items.map(instanceSummary), nextCursor: page.nextCursor };
    }),
    instance: async (id) => reading(file, () => {
      // One read transaction, so the state and its timers agree while the server writes.
      return store.tx(() => {
        const state = store.getInstance(id);
        if (state === undefined) throw noInstance(id, where, flags, archive);
        return instanceDocument(state, defOf(state.definitionHash), store.timersOf(id));
      });
    }),
    history: async (id) => reading(file, () => {
      const entries = store.history(id);
      if (entries.length === 0 && store.getInstance(id) === undefined) throw noInstance(id, where, flags, archive);
      return entries.map(historyEntry);
    }),
    definition: async (saga, hash) => reading(file, () => {
      const def = defOf(hash);
      return def === undefined || def.name !== saga ? undefined : definitionDetail(def);
    }),
    stats: async () => reading(file, () => store.tx(() => statsDocument({
      instances: store.countByStatus().map((r) => ({ saga: r.saga, state: r.status, count: r.count })),
      timersPending: store.timerCount(), outboxBacklog: store.backlog(), deadLetters: store.deadCount(), consumerLag: null,
    }))),
    async durations(since) {
      const at = Date.now();
      const groups = await store.sagaDurations(since).catch((err: unknown) => reading(file, () => {
        throw err;
      }));
      return durationsDocument(since, at, groups);
    },
    close: () => store.close(),
  };
}
