import { existsSync, readFileSync } from 'node:fs';

/**
 * What one command met at the participant. `done`, `declined`, `nothing-to-undo` and `refused`
 * fix the participant's answer for that Idempotency-Key; `duplicate` repeats it; `busy` and
 * `held` change nothing (a retryable answer, or no answer at all); `ignored` is a command the
 * participant does not serve.
 */
export type Effect = 'done' | 'declined' | 'duplicate' | 'nothing-to-undo' | 'refused' | 'busy' | 'held' | 'ignored';

/** Effects after which the participant answers every further command of that key the same way. */
export const DECIDING: readonly Effect[] = ['done', 'declined', 'nothing-to-undo', 'refused'];

/**
 * One line of the participant's ledger: a fact about one command it received (every delivery,
 * in the order received), appended and fsynced before any answer is published. The judge
 * (`judge.ts`) reads these facts; the participant never decides what is a violation.
 */
export interface LedgerEntry {
  /** Position in the ledger, from 1. */
  seq: number;
  /** When the command was received (ISO time). */
  at: string;
  /** The Idempotency-Key header, as received (`<sagaId>/<step>/do|undo` if sagad is right). */
  key: string;
  /** The Saga-Step header. */
  step: string;
  /** Forward work or its compensation, by the command's type (not by the key). */
  action: 'do' | 'undo';
  effect: Effect;
  /** The Saga-Id header. */
  sagaId: string;
  /** The Saga-Attempt header. */
  attempt: number;
  orderId: string;
  /** The command's type and eventId. */
  command: string;
  commandId: string;
  /** The type of the answer decided, or null when none was (held, ignored). */
  reply: string | null;
  /** The eventId of that answer (its copies under `dupreplies` excepted). */
  replyId: string | null;
  /** When the answer goes out: at once, `delayMs` later, or never (a dropped reply). */
  published: 'now' | 'later' | 'never';
  delayMs?: number;
  /** The payload of that answer, so a repeated command gets the same one after a restart. */
  payload: Record<string, unknown>;
  /** Why the command was declined or refused. */
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
export function flagName(orderId: string, what: string): string {
  return `${encodeURIComponent(orderId)}.${what}`;
}
