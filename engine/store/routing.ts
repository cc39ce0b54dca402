import type Database from 'better-sqlite3';

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
  /** Records that the instance's `wait` step awaits events of `type` on `subject` (replacing an older wait of the step). */
  addWait(subject: string, type: string, instanceId: string, step: string): void;
  removeWait(instanceId: string, step: string): void;
  /** The instances and steps waiting for events of `type` on `subject`, oldest instance first. */
  waiting(subject: string, type: string): { instanceId: string; step: string }[];
}

/** Prepares the command and wait statements once. */
export function routing(db: Database.Database): Routing {
  const putCommand = db.prepare<[string, string, string, string]>(
    'INSERT INTO commands (command_id, instance_id, step, kind) VALUES (?, ?, ?, ?) ON CONFLICT (command_id) DO NOTHING');
  const getCommand = db.prepare<[string], { instance_id: string; step: string; kind: CommandKind }>(
    'SELECT instance_id, step, kind FROM commands WHERE command_id = ?');
  const putWait = db.prepare<[string, string, string, string]>(`
    INSERT INTO waits (subject, type, instance_id, step) VALUES (?, ?, ?, ?)
    ON CONFLICT (instance_id, step) DO UPDATE SET subject = excluded.subject, type = excluded.type`);
  const delWait = db.prepare<[string, string]>('DELETE FROM waits WHERE instance_id = ? AND step = ?');
  const waiters = db.prepare<[string, string], { instanceId: string; step: string }>(
    'SELECT instance_id AS instanceId, step FROM waits WHERE subject = ? AND type = ? ORDER BY rowid');

  return {
    indexCommand: (commandId, instanceId, step, kind) => void putCommand.run(commandId, instanceId, step, kind),
    lookupCommand(commandId) {
      const r = getCommand.get(commandId);
      return r === undefined ? undefined : { instanceId: r.instance_id, step: r.step, kind: r.kind };
    },
    addWait: (subject, type, instanceId, step) => void putWait.run(subject, type, instanceId, step),
    removeWait: (instanceId, step) => void delWait.run(instanceId, step),
    waiting: (subject, type) => waiters.all(subject, type),
  };
}
