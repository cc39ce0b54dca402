import { existsSync, readFileSync } from 'node:fs';

/** What one command did at the participant (DESIGN section 3: effects judged by Idempotency-Key). */
export type Effect = 'done' | 'refused' | 'duplicate' | 'nothing-to-undo';

/** One line of the scripted participant's ledger, appended (and fsynced) before the reply is sent. */
export interface LedgerEntry {
  /** Position in the ledger, from 1. */
  seq: number;
  at: string;
  /** The Idempotency-Key header: `<sagaId>/<step>/do|undo`. */
  key: string;
  step: string;
  action: 'do' | 'undo';
  effect: Effect;
  sagaId: string;
  /** The Saga-Attempt header. */
  attempt: number;
  orderId: string;
  /** The command's type and eventId, and the type of the answer given. */
  command: string;
  commandId: string;
  reply: string;
  /** The eventId of that answer (its copies under `dupreplies` excepted). */
  replyId: string;
  /** The payload of that answer, so a repeated command gets the same one after a restart. */
  payload: Record<string, unknown>;
  /** Why a `do` was refused: a business failure, or `undo came first`. */
  reason?: string;
}

/** Reads the ledger; a torn last line (the participant was killed mid-write) is skipped. */
export function readLedger(path: string): LedgerEntry[] {
  return readLedgerLines<LedgerEntry>(path);
}

/** A command as the participant received it (every delivery, before deciding anything). */
export interface Received { commandId: string; type: string; sagaId: string; attempt: number }

/** Reads the participant's log of received commands. */
export function readReceived(path: string): Received[] {
  return readLedgerLines<Received>(path);
}

function readLedgerLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const out: T[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // torn write
    }
  }
  return out;
}

/**
 * The behaviour an order asks of the participant, written into its orderId after `~`:
 * `o-7~decline~refundfail`. Numbers follow the directive name: `busy2`, `slowcharge1500`.
 */
export function directivesOf(orderId: string): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const part of orderId.split('~').slice(1)) {
    const m = /^([a-z]+)(\d+)?$/.exec(part);
    if (m?.[1] !== undefined) out.set(m[1], m[2] === undefined ? null : Number(m[2]));
  }
  return out;
}

/** The name of the flag file that releases a held or failing operation of an order. */
export function flagName(orderId: string, what: 'ship' | 'refund' | 'charge'): string {
  return `${encodeURIComponent(orderId)}.${what}`;
}
