import { evolve, type InstanceState } from '../../core/index.js';
import { StoreError, StoreErrorCode } from '../errors.js';
import type { JournalEntry } from '../journal.js';
import type { ReplyTarget, StorePort } from '../port.js';
import type { CommandKind } from '../routing.js';
import { upcast, type Upcasters } from '../upcast.js';
import { coalesced } from './coalesce.js';
import type { Db } from './db.js';

type Reads = Pick<StorePort, 'getInstance' | 'findByKey' | 'replyTarget' | 'waiting' | 'history' | 'rebuild'>;

interface JournalRow { seq: number; type: string; type_version: number; at: number; data: string }

/** Reply targets of command ids (`$1`): each command with its instance's state, one index probe per id. */
export const REPLY_TARGETS_SQL = `
  SELECT t.* FROM unnest($1::text[]) k(id) CROSS JOIN LATERAL (
    SELECT c.command_id, c.instance_id, c.step, c.kind, i.state FROM commands c JOIN instances i ON i.id = c.instance_id
    WHERE c.command_id = k.id LIMIT 1) t`;

/** Instances by saga (`$1`) and key (`$2`), pairwise: one probe of instances_saga_key per pair. */
export const FIND_BY_KEYS_SQL = `
  SELECT t.* FROM unnest($1::text[], $2::text[]) k(saga, key) CROSS JOIN LATERAL (
    SELECT i.saga, i.key, i.state FROM instances i WHERE i.saga = k.saga AND i.key = k.key LIMIT 1) t`;

/**
 * The reads a decision needs and the journal reads of operators. `getInstance`, `findByKey`,
 * `waiting` and `replyTarget` (a command joined with its instance: one query) are coalesced per
 * event-loop turn; nothing is cached, so every read sees what any replica committed before it was asked.
 */
export function reads(d: Db, upcasters: Upcasters): Reads {
  const byId = coalesced(async (ids) => {
    const rows = await d.query<{ id: string; state: string }>('SELECT id, state FROM instances WHERE id = ANY ($1)', [ids], 'sagad_get_instances');
    return new Map(rows.map((r) => [r.id, r.state]));
  });
  // One index probe per id, whatever the planner thinks of the table's size: a join it may
  // flatten (no LIMIT) was planned as a scan of the whole commands table while that was small,
  // and the plan, cached, kept scanning it as it grew until autovacuum first analyzed it.
  const byCommand = coalesced(async (ids) => {
    const rows = await d.query<{ command_id: string; instance_id: string; step: string; kind: CommandKind; state: string }>(
      REPLY_TARGETS_SQL, [ids], 'sagad_reply_targets');
    return new Map(rows.map((r) => [r.command_id, r]));
  });

  // Starts by key, many at once: one query for all (saga, key) pairs asked in a turn, one probe
  // of instances_saga_key per pair.
  const byKey = coalesced(async (pairs) => {
    const split = pairs.map((p) => JSON.parse(p) as [string, string]);
    const rows = await d.query<{ saga: string; key: string; state: string }>(
      FIND_BY_KEYS_SQL, [split.map((p) => p[0]), split.map((p) => p[1])], 'sagad_find_by_keys');
    return new Map(rows.map((r) => [JSON.stringify([r.saga, r.key]), r.state]));
  });

  // Every message that may concern a wait asks which instances wait for its (subject, type)
  // and correlation id: at concurrency 100 the messages of one turn share one query (one round
  // trip per saga before). The waits of any correlation id (null: their `match` decides, or an
  // older build wrote them) go to every asker of their type; rows of a subject and type no one
  // asked together (the query takes every subject, type and id of the turn) are dropped.
  const byWait = coalesced(async (keys) => {
    const split = keys.map((p) => JSON.parse(p) as [string, string, string]);
    const rows = await d.query<{ subject: string; type: string; correlation_id: string | null; instance_id: string; step: string }>(
      `SELECT subject, type, correlation_id, instance_id, step FROM waits
       WHERE subject = ANY ($1::text[]) AND type = ANY ($2::text[]) AND (correlation_id IS NULL OR correlation_id = ANY ($3::text[])) ORDER BY ord`,
      [[...new Set(split.map((p) => p[0]))], [...new Set(split.map((p) => p[1]))], [...new Set(split.map((p) => p[2]))]], 'sagad_waiting_many');
    const found = new Map<string, { instanceId: string; step: string }[]>(keys.map((p) => [p, []]));
    const askersOf = new Map<string, string[]>();
    keys.forEach((k, i) => {
      const [subject, type] = split[i] ?? [];
      const of = JSON.stringify([subject, type]);
      askersOf.set(of, [...(askersOf.get(of) ?? []), k]);
    });
    for (const r of rows) {
      const askers = r.correlation_id === null ? askersOf.get(JSON.stringify([r.subject, r.type])) ?? [] : [JSON.stringify([r.subject, r.type, r.correlation_id])];
      for (const k of askers) found.get(k)?.push({ instanceId: r.instance_id, step: r.step });
    }
    return found;
  });

  const journalAfter = (id: string, seq: number) => d.query<JournalRow>(
    'SELECT seq, type, type_version, at, data FROM journal WHERE instance_id = $1 AND seq > $2 ORDER BY seq', [id, seq], 'sagad_journal_after');

  return {
    async getInstance(id) {
      const state = await byId(id);
      return state === undefined ? undefined : JSON.parse(state) as InstanceState;
    },
    async findByKey(saga, key) {
      const state = await byKey(JSON.stringify([saga, key]));
      return state === undefined ? undefined : JSON.parse(state) as InstanceState;
    },
    async replyTarget(commandId): Promise<ReplyTarget | undefined> {
      const r = await byCommand(commandId);
      return r === undefined ? undefined : { instanceId: r.instance_id, step: r.step, kind: r.kind, state: JSON.parse(r.state) as InstanceState };
    },
    async waiting(subject, type, correlationId) {
      return ((await byWait(JSON.stringify([subject, type, correlationId]))) ?? []).map((w) => ({ ...w }));
    },
    async history(id, after): Promise<JournalEntry[]> {
      const rows = await journalAfter(id, after ?? 0);
      return rows.map((r) => ({ seq: r.seq, type: r.type, version: r.type_version, at: r.at, data: JSON.parse(r.data) as unknown }));
    },
    async rebuild(id, opts) {
      const [snap] = opts?.fromScratch === true ? [] : await d.query<{ version: number; state: string }>(
        'SELECT version, state FROM snapshots WHERE instance_id = $1', [id]);
      let state = snap === undefined ? undefined : JSON.parse(snap.state) as InstanceState;
      const from = snap?.version ?? 0;
      const rows = await journalAfter(id, from);
      for (const r of rows) state = evolve(state, upcast(r.type, r.type_version, JSON.parse(r.data), upcasters));
      if (state === undefined) throw new StoreError(StoreErrorCode.NotFound, `instance ${id} has no journal`);
      // evolve counts applied events; a mismatch means a snapshot that does not fit its journal.
      if (state.version !== from + rows.length) {
        throw new Error(`rebuild of ${id}: state version ${state.version} after replaying seq ${from + 1}..${from + rows.length}`);
      }
      return state;
    },
  };
}
