import { eventVersion } from '../../core/index.js';
import type { OutboxRow } from '../outbox.js';
import type { InputWrite, WriteOutcome } from '../port.js';

type Row = unknown[];

/** The child rows of `sagad_apply`'s `rows` argument (apply-sql.ts), each without its input index yet. */
interface Rows {
  u: Row[]; e: Row[]; s: Row[]; tc: Row[]; tp: Row[]; cm: Row[]; wr: Row[]; wp: Row[]; o: Row[];
}

/** One write, serialized once when it is queued: states, events and payloads are stringified here. */
export interface PreparedWrite {
  readonly write: InputWrite;
  /** Its element of `inputs`. */
  readonly input: {
    m: string | null; t: { i: string; t: string; d: number } | null; c: Record<string, unknown>[]; a?: readonly string[]; r?: readonly { id: string; v: number }[];
  };
  readonly rows: Rows;
  /**
   * Every instance it changes or reads: a batch holds at most one write per instance, so that
   * no write of a batch reads an instance another one changes (`sagad_apply` compares each
   * version with the one found before the batch).
   */
  readonly ids: readonly string[];
}

/** The last of each key: putting a timer or a wait twice in one change means the later one. */
function lastBy<T>(items: readonly T[], key: (t: T) => string): T[] {
  return [...new Map(items.map((x) => [key(x), x])).values()];
}

/**
 * Serializes one write for `sagad_apply`. A snapshot is taken whenever the version crosses a
 * multiple of `snapshotEvery`: the same spacing as "every n events" without reading the last
 * one. Throws (so the write fails alone, before it is queued) for a state whose version does
 * not follow from its events, or an event type this build cannot journal.
 */
export function prepareWrite(w: InputWrite, snapshotEvery: number): PreparedWrite {
  const rows: Rows = { u: [], e: [], s: [], tc: [], tp: [], cm: [], wr: [], wp: [], o: [] };
  const c = w.changes.map((ch) => {
    const s = ch.state;
    const id = s.id;
    if (s.version !== ch.expectedVersion + ch.events.length) {
      throw new Error(`change of ${id}: state version ${s.version} is not ${ch.expectedVersion} + ${ch.events.length} events`);
    }
    const json = JSON.stringify(s);
    ch.events.forEach((e, k) => {
      const version = eventVersion[e.type];
      if (version === undefined) throw new Error(`cannot journal unknown event type ${String(e.type)}`);
      rows.e.push([id, ch.expectedVersion + k + 1, e.type, version, e.at, JSON.stringify(e)]);
    });
    if (Math.floor(s.version / snapshotEvery) > Math.floor(ch.expectedVersion / snapshotEvery)) rows.s.push([id, s.version, json]);
    for (const t of ch.timers.cancel) rows.tc.push([id, t]);
    for (const t of lastBy(ch.timers.put, (x) => x.timerId)) rows.tp.push([id, t.timerId, t.dueAt, JSON.stringify(t.data)]);
    for (const k of ch.commands) rows.cm.push([k.commandId, id, k.step, k.kind]);
    for (const step of ch.waits.remove) rows.wr.push([id, step]);
    for (const x of lastBy(ch.waits.put, (y) => y.step)) rows.wp.push([id, x.step, x.subject, x.type, x.correlationId]);
    for (const o of ch.outbox) {
      rows.o.push([o.messageId, o.subject, JSON.stringify(o.headers), Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength).toString('base64'), id]);
    }
    if (ch.expectedVersion > 0) {
      rows.u.push([id, s.status, s.updatedAt, s.version, json]);
      return { v: ch.expectedVersion, id };
    }
    return {
      v: 0, id, saga: s.saga, hash: s.definitionHash, key: s.key, corr: s.correlationId,
      st: s.status, ca: s.createdAt, ua: s.updatedAt, ver: s.version, s: json,
    };
  });
  const t = w.firedTimer;
  const reads = w.reads ?? [];
  return {
    write: w,
    input: {
      m: w.messageId, t: t === null ? null : { i: t.instanceId, t: t.timerId, d: t.dueAt }, c,
      ...(w.answers === undefined || w.answers.length === 0 ? {} : { a: w.answers }),
      ...(reads.length === 0 ? {} : { r: reads.map((x) => ({ id: x.instanceId, v: x.version })) }),
    },
    rows,
    ids: [...new Set([...w.changes.map((ch) => ch.state.id), ...reads.map((x) => x.instanceId)])],
  };
}

/** The arguments `inputs` and `rows` of one `sagad_apply` call, as JSON text; input indexes count from 1. */
export function encodeBatch(batch: readonly PreparedWrite[]): { inputs: string; rows: string } {
  const all: Partial<Rows> = {};
  batch.forEach((p, i) => {
    for (const [name, list] of Object.entries(p.rows) as [keyof Rows, Row[]][]) {
      if (list.length === 0) continue;
      const into = (all[name] ??= []);
      for (const r of list) into.push([i + 1, ...r]);
    }
  });
  return { inputs: JSON.stringify(batch.map((p) => p.input)), rows: JSON.stringify(all) };
}

/**
 * Reads `sagad_apply`'s outcome of one write back into the port's terms. `seqs` holds the
 * outbox rows the batch added; a message id is given to the first write (in batch order) that
 * carries it, as the insert did, and removed from `seqs`. `prior` holds, per instance, its
 * older unsent rows: the first new row of that instance `follows` them.
 */
export function decodeOutcome(w: InputWrite, raw: unknown, seqs: Map<string, number>, createdAt: number, prior: ReadonlyMap<string, readonly number[]> = new Map()): WriteOutcome {
  if (raw === 'd') return { status: 'duplicate' };
  if (raw === 'c') {
    const outbox: OutboxRow[] = [];
    for (const ch of w.changes) {
      let follows = prior.get(ch.state.id);
      for (const o of ch.outbox) {
        const seq = seqs.get(o.messageId);
        seqs.delete(o.messageId);
        if (seq === undefined) continue;
        outbox.push(follows === undefined || follows.length === 0 ? { ...o, seq, createdAt } : { ...o, seq, createdAt, follows });
        follows = undefined;
      }
    }
    outbox.sort((a, b) => a.seq - b.seq);
    return { status: 'committed', outbox };
  }
  if (typeof raw === 'object' && raw !== null && typeof (raw as { x?: unknown }).x === 'string') {
    return { status: 'conflict', instanceId: (raw as { x: string }).x };
  }
  throw new Error(`sagad_apply returned an outcome this build cannot read: ${JSON.stringify(raw)}`);
}
