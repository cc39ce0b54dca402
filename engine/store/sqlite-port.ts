import { SagaError } from '../errors.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { GroupCommit } from './group-commit.js';
import type { InputWrite, InstanceChange, PortOptions, StorePort, WriteOutcome } from './port.js';
import { openStore, type Store, type StoreOptions } from './store.js';

/** Options of the SQLite adapter: the port's, plus durability and the background thread. */
export interface SqlitePortOptions extends PortOptions {
  readonly synchronous?: StoreOptions['synchronous'];
  readonly background?: boolean;
  readonly onBackgroundError?: (message: string) => void;
  /** Inputs in one shared transaction at most; default 512. */
  readonly maxBatch?: number;
}

/**
 * Thrown inside a write to undo it: the write is a duplicate or lost a race. `clean` when
 * thrown before the write wrote anything: the group commit goes on without undoing it.
 */
class Undo extends Error {
  constructor(readonly outcome: WriteOutcome, readonly clean = false) {
    super(outcome.status);
  }
}

const DUPLICATE: WriteOutcome = { status: 'duplicate' };

/**
 * The SQLite adapter: one process owns the file (the runtime's lease makes sure), so reads are
 * the synchronous store's, answered at once, and writes of one event-loop turn share one
 * transaction (group commit), each in a savepoint of its own.
 */
export function sqlitePort(store: Store, maxBatch = 512, onCommit?: (size: number, seconds: number) => void): StorePort {
  const apply = (w: InputWrite): WriteOutcome => applyWrite(store, w);
  const commits = new GroupCommit((fn) => store.tx(fn), () => undefined, maxBatch, undefined, onCommit, (err) => err instanceof Undo && err.clean,
    () => store.inTransaction());
  const ro = (): never => {
    throw new StoreError(StoreErrorCode.ReadOnly, `${store.file} is open for reading only`);
  };
  return {
    kind: 'sqlite',
    where: store.file,
    readonly: store.readonly,
    getInstance: async (id) => store.getInstance(id),
    findByKey: async (saga, key) => store.findByKey(saga, key),
    async replyTarget(commandId) {
      const ref = store.lookupCommand(commandId);
      const state = ref === undefined ? undefined : store.getInstance(ref.instanceId);
      return ref === undefined || state === undefined ? undefined : { ...ref, state };
    },
    waiting: async (subject, type, correlationId) => store.waiting(subject, type, correlationId),
    commit: (w) => (store.readonly ? Promise.reject(new StoreError(StoreErrorCode.ReadOnly, `${store.file} is open for reading only`)) : commits.run(() => apply(w)).catch((err: unknown) => {
      if (err instanceof Undo) return err.outcome;
      throw err;
    })),
    claimDueTimers: async (now, limit, _claimMs, sweep) => store.dueTimers(now, limit, sweep),
    nextDueAt: async () => store.nextDueAt(),
    timersOf: async (id) => store.timersOf(id),
    claimUnsent: async (limit, createdBefore) => store.unsent(limit, createdBefore),
    unsentBySeq: async (seqs) => store.unsentBySeq(seqs),
    markSent: async (seqs, at) => (store.readonly ? ro() : store.markSent(seqs, at)),
    // Withdrawn and parked in one savepoint of the group commit, durable as any letter.
    parkOutboxRow: (seq, letter) => (store.readonly ? Promise.reject(new StoreError(StoreErrorCode.ReadOnly, `${store.file} is open for reading only`))
      : commits.run(() => (store.withdraw(seq) ? store.park(letter) : null))),
    // Parks share the group commit: a flood of bad messages costs one fsync per batch, not one each.
    park: (letter, deliveryId) => (store.readonly ? Promise.reject(new StoreError(StoreErrorCode.ReadOnly, `${store.file} is open for reading only`))
      : commits.run(() => (deliveryId !== undefined && !store.remember(deliveryId, letter.at) ? null : store.park(letter)))),
    listDead: async (opts) => store.listDead(opts),
    getDead: async (id) => store.getDead(id),
    markRedriven: async (id, at, by) => (store.readonly ? ro() : store.markRedriven(id, at, by)),
    trimDead: (cap) => (store.readonly ? Promise.reject(new StoreError(StoreErrorCode.ReadOnly, `${store.file} is open for reading only`)) : commits.run(() => store.trimDead(cap))),
    deleteDead: async (id) => (store.readonly ? ro() : store.deleteDead(id)),
    rememberDefinition: async (hash, name, source, at) => (store.readonly ? ro() : store.rememberDefinition(hash, name, source, at)),
    getDefinitionSource: async (hash) => store.getDefinitionSource(hash),
    listDefinitions: async () => store.listDefinitions(),
    hashesInUse: async () => store.hashesInUse(),
    keepEarlyEvent: async (e, max) => (store.readonly ? ro() : store.keepEarlyEvent(e, max)),
    earlyEventsOf: async (id) => store.earlyEventsOf(id),
    earlyEventsDue: async (now, limit, after) => store.earlyEventsDue(now, limit, after),
    dropEarlyEvent: async (id, eventId) => (store.readonly ? ro() : store.dropEarlyEvent(id, eventId)),
    // Forgotten and parked in one savepoint of the group commit: never parked once delivered.
    // A letter parked before under its delivery id (a repeat) is not parked again, nor reported.
    parkEarlyEvent: (id, eventId, letter, deliveryId) => (store.readonly ? Promise.reject(new StoreError(StoreErrorCode.ReadOnly, `${store.file} is open for reading only`))
      : commits.run(() => {
        if (!store.takeEarlyEvent(id, eventId) || !store.remember(deliveryId, letter.at)) return false;
        store.park(letter);
        return true;
      })),
    listInstances: async (filter) => store.listInstances(filter),
    history: async (id, after) => store.history(id, after),
    rebuild: async (id, opts) => store.rebuild(id, opts),
    rebuildInstance: async (id) => (store.readonly ? ro() : store.rebuildInstance(id)),
    journalInstanceIds: async (after, limit) => store.journalInstanceIds(after, limit),
    gauges: () => store.gauges(),
    definitionVersions: async (saga) => store.definitionVersions(saga),
    sagaDurations: (since) => store.sagaDurations(since),
    pruneInbox: async (olderThan) => (store.readonly ? ro() : store.pruneInbox(olderThan)),
    pruneSent: async (olderThan) => (store.readonly ? ro() : store.pruneSent(olderThan)),
    // Reads, then the archive (async: inputs go on meanwhile), then the delete as one more
    // write of the group commit: a short savepoint in a shared transaction.
    async retire(before, limit, keep, after) {
      if (store.readonly) return ro();
      const began = performance.now();
      const { batch, next } = store.finishedBefore(before, limit, after);
      let busyMs = performance.now() - began;
      if (batch.length === 0) return { archived: 0, deleted: 0, busyMs, next };
      await keep(batch);
      const deleted = await commits.run(() => {
        const t = performance.now();
        const ids = store.purge(batch.map((r) => ({ id: r.id, version: r.version })));
        busyMs += performance.now() - t;
        return ids;
      });
      return { archived: batch.length, deleted: deleted.length, busyMs, next };
    },
    pruneDeadLetters: async (olderThan, limit) => (store.readonly ? ro() : commits.run(() => store.pruneDead(olderThan, limit))),
    settled: () => commits.settled(),
    close: async () => {
      await commits.settled();
      store.close();
    },
  };
}

/**
 * Applies one input's write inside the caller's transaction (or savepoint). A duplicate or a
 * lost race throws, so that the caller undoes what was written before it was known; a
 * duplicate found before anything was written says so (`clean`).
 */
export function applyWrite(store: Store, w: InputWrite): WriteOutcome {
  // Remembering the id writes nothing when it was remembered before.
  if (w.messageId !== null && !store.remember(w.messageId, Date.now())) throw new Undo(DUPLICATE, true);
  const t = w.firedTimer;
  // Consuming a timer that is gone writes nothing either; the inbox row before it was written, though.
  if (t !== null && !store.consumeTimer(t.instanceId, t.timerId, t.dueAt)) throw new Undo(DUPLICATE, w.messageId === null);
  // An instance the write's decisions read without changing it must still be as they saw it,
  // as a changed one must (port.ts, `reads`).
  for (const r of w.reads ?? []) {
    if ((store.getInstance(r.instanceId)?.version ?? 0) !== r.version) throw new Undo({ status: 'conflict', instanceId: r.instanceId });
  }
  const outbox = w.changes.flatMap((c) => applyChange(store, c));
  return { status: 'committed', outbox };
}

/** Writes one instance's change inside the input's savepoint; a lost race undoes the whole input. */
function applyChange(store: Store, c: InstanceChange) {
  const id = c.state.id;
  const current = store.getInstance(id);
  if ((current?.version ?? 0) !== c.expectedVersion) throw new Undo({ status: 'conflict', instanceId: id });
  try {
    store.append(id, c.expectedVersion, c.events);
    // The timers live in the instance row: armed and cancelled by the row write itself. A new
    // instance (no row above) has neither timers nor a snapshot to read back.
    store.saveInstance(c.state, c.timers, current === undefined);
  } catch (err) {
    if (err instanceof SagaError && (err.code === StoreErrorCode.VersionConflict || err.code === StoreErrorCode.DuplicateKey)) {
      throw new Undo({ status: 'conflict', instanceId: id });
    }
    throw err;
  }
  for (const cmd of c.commands) store.indexCommand(cmd.commandId, id, cmd.step, cmd.kind);
  for (const step of c.waits.remove) store.removeWait(id, step);
  for (const w of c.waits.put) store.addWait(w.subject, w.type, id, w.step, w.correlationId);
  return c.outbox.length === 0 ? [] : store.enqueue(c.outbox, Date.now());
}

/** Opens (creating and migrating it when needed) the SQLite file behind the store port. */
export async function openSqlitePort(file: string, opts: SqlitePortOptions = {}): Promise<StorePort> {
  const store = openStore(file, {
    readonly: opts.readonly, snapshotEvery: opts.snapshotEvery, synchronous: opts.synchronous,
    background: opts.background, onBackgroundError: opts.onBackgroundError,
  });
  return sqlitePort(store, opts.maxBatch, opts.onCommit);
}
