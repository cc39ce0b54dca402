import type Database from 'better-sqlite3';
import { setBounded } from './bounded.js';

/** Which side of a step a command was for. */
export const CommandKind = { do: 'do', undo: 'undo' } as const;
export type CommandKind = (typeof CommandKind)[keyof typeof CommandKind];

export interface CommandRef {
  readonly instanceId: string;
  readonly step: string;
  readonly kind: CommandKind;
}

/** Indexes that route an incoming message to the instance it concerns. */
export interface Routing {
  /** Records that command `commandId` was sent by that instance's step; a reply's causationId finds it. */
  indexCommand(commandId: string, instanceId: string, step: string, kind: CommandKind): void;
  /** The instance and step that sent the command, or undefined. */
  lookupCommand(commandId: string): CommandRef | undefined;
  /**
   * Records that the instance's `wait` step awaits events of `type` on `subject` carrying
   * `correlationId`, or any when null (its `match` decides), replacing an older wait of the step.
   */
  addWait(subject: string, type: string, instanceId: string, step: string, correlationId: string | null): void;
  removeWait(instanceId: string, step: string): void;
  /**
   * The instances and steps waiting for events of `type` on `subject` that may take one
   * carrying `correlationId` (their own, or any), oldest wait first.
   */
  waiting(subject: string, type: string, correlationId: string): { instanceId: string; step: string }[];
}

/** What the store needs beyond the interface: forgetting remembered commands when a transaction rolls back. */
export interface RoutingInternal extends Routing {
  /** Drops every remembered command; the next lookup goes to the database. */
  forgetCommands(): void;
}

/**
 * Prepares the command and wait statements once. The commands last indexed or looked up are
 * remembered (up to `cacheSize`, oldest dropped first): a reply's lookup comes before its
 * input's transaction, and in SQLite a statement outside a transaction opens and ends a read
 * transaction of its own, which cost more than the lookup. A command's row never changes
 * (the first index of an id stays), so a remembered one is right until a rollback undoes its
 * insert or retention deletes its instance (the store then calls `forgetCommands`).
 */
export function routing(db: Database.Database, cacheSize = 10_000): RoutingInternal {
  const putCommand = db.prepare<[string, string, string, string]>(
    'INSERT INTO commands (command_id, instance_id, step, kind) VALUES (?, ?, ?, ?) ON CONFLICT (command_id) DO NOTHING');
  const getCommand = db.prepare<[string], { instance_id: string; step: string; kind: CommandKind }>(
    'SELECT instance_id, step, kind FROM commands WHERE command_id = ?');
  const putWait = db.prepare<[string, string, string, string, string | null]>(`
    INSERT INTO waits (subject, type, instance_id, step, correlation_id) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (instance_id, step) DO UPDATE SET subject = excluded.subject, type = excluded.type, correlation_id = excluded.correlation_id`);
  const delWait = db.prepare<[string, string]>('DELETE FROM waits WHERE instance_id = ? AND step = ?');
  // Two probes of waits_correlation (migration 13), the waits of any correlation and those of
  // this one, instead of every wait for the type: a thousand orders waiting for their
  // Delivered cost one row read for each Delivered, not a thousand instances decided.
  const waiters = db.prepare<[string, string, string, string, string], { instanceId: string; step: string; ord: number }>(`
    SELECT instance_id AS instanceId, step, rowid AS ord FROM waits WHERE subject = ? AND type = ? AND correlation_id IS NULL
    UNION ALL
    SELECT instance_id AS instanceId, step, rowid AS ord FROM waits WHERE subject = ? AND type = ? AND correlation_id = ?
    ORDER BY ord`);

  const known = new Map<string, CommandRef>();
  const remember = (commandId: string, ref: CommandRef): void => setBounded(known, commandId, ref, cacheSize);

  return {
    indexCommand(commandId, instanceId, step, kind) {
      // An id indexed before keeps its first row: only a new row is remembered as written.
      if (putCommand.run(commandId, instanceId, step, kind).changes === 1) remember(commandId, { instanceId, step, kind });
    },
    lookupCommand(commandId) {
      const hit = known.get(commandId);
      if (hit !== undefined) return hit;
      const r = getCommand.get(commandId);
      if (r === undefined) return undefined;
      const ref = { instanceId: r.instance_id, step: r.step, kind: r.kind };
      remember(commandId, ref);
      return ref;
    },
    forgetCommands: () => known.clear(),
    addWait: (subject, type, instanceId, step, correlationId) => void putWait.run(subject, type, instanceId, step, correlationId),
    removeWait: (instanceId, step) => void delWait.run(instanceId, step),
    waiting: (subject, type, correlationId) => waiters.all(subject, type, subject, type, correlationId).map((w) => ({ instanceId: w.instanceId, step: w.step })),
  };
}
