import { eventVersion } from '../../core/index.js';
import type { OutboxRow } from '../outbox.js';
import type { InputWrite, WriteOutcome } from '../port.js';

/** One input as `sagad_apply` reads it (apply-sql.ts); empty lists are left out. */
export interface EncodedWrite {
  m: string | null;
  t: { i: string; t: string; d: number } | null;
  c: Record<string, unknown>[];
}

/**
 * The batch element of one write. A snapshot is taken whenever the version crosses a multiple
 * of `snapshotEvery`: the same spacing as "every n events" without reading the last one.
 */
export function encodeWrite(w: InputWrite, snapshotEvery: number): EncodedWrite {
  return {
    m: w.messageId,
    t: w.firedTimer === null ? null : { i: w.firedTimer.instanceId, t: w.firedTimer.timerId, d: w.firedTimer.dueAt },
    c: w.changes.map((ch) => {
      const s = ch.state;
      const c: Record<string, unknown> = {
        v: ch.expectedVersion, id: s.id, saga: s.saga, hash: s.definitionHash, key: s.key, corr: s.correlationId,
        st: s.status, ca: s.createdAt, ua: s.updatedAt, ver: s.version, s: JSON.stringify(s),
      };
      if (s.version !== ch.expectedVersion + ch.events.length) {
        throw new Error(`change of ${s.id}: state version ${s.version} is not ${ch.expectedVersion} + ${ch.events.length} events`);
      }
      if (Math.floor(s.version / snapshotEvery) > Math.floor(ch.expectedVersion / snapshotEvery)) c.snap = true;
      if (ch.events.length > 0) {
        c.e = ch.events.map((e) => {
          const version = eventVersion[e.type];
          if (version === undefined) throw new Error(`cannot journal unknown event type ${String(e.type)}`);
          return [e.type, version, e.at, JSON.stringify(e)];
        });
      }
      if (ch.outbox.length > 0) {
        c.o = ch.outbox.map((o) => [o.messageId, o.subject, JSON.stringify(o.headers),
          Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength).toString('base64')]);
      }
      if (ch.timers.put.length > 0) c.tp = ch.timers.put.map((t) => [t.timerId, t.dueAt, JSON.stringify(t.data)]);
      if (ch.timers.cancel.length > 0) c.tc = ch.timers.cancel;
      if (ch.commands.length > 0) c.cm = ch.commands.map((k) => [k.commandId, k.step, k.kind]);
      if (ch.waits.put.length > 0) c.wp = ch.waits.put.map((x) => [x.step, x.subject, x.type]);
      if (ch.waits.remove.length > 0) c.wr = ch.waits.remove;
      return c;
    }),
  };
}

/** Reads `sagad_apply`'s outcome of one write back into the port's terms. */
export function decodeOutcome(w: InputWrite, raw: unknown, createdAt: number): WriteOutcome {
  if (raw === 'd') return { status: 'duplicate' };
  if (Array.isArray(raw)) {
    const seqs = new Map((raw as [string, number][]).map(([id, seq]) => [id, Number(seq)]));
    const outbox: OutboxRow[] = [];
    for (const ch of w.changes) {
      for (const o of ch.outbox) {
        const seq = seqs.get(o.messageId);
        // A message id given twice was added once.
        seqs.delete(o.messageId);
        if (seq !== undefined) outbox.push({ ...o, seq, createdAt });
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
