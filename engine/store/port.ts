import type { Effect, InstanceState, SagaEvent, TimerRef } from '../core/index.js';
import type { Page } from './cursor.js';
import type { DeadLetter, DeadLetterCap, DeadLetterInput, DeadLetterSummary, DeadListOptions } from './dlq.js';
import type { EarlyEvent, EarlyEventKey, KeepOutcome } from './early-events.js';
import type { DurationGroup, VersionCount } from './insights.js';
import type { JournalEntry } from './journal.js';
import type { InstanceFilter, InstanceSummary } from './list.js';
import type { OutboxMessage, OutboxRow } from './outbox.js';
import type { RebuildReport } from './rebuild-plan.js';
import type { RetireBefore, RetireCursor, RetiredInstance } from './retention.js';
import type { CommandKind, CommandRef } from './routing.js';
import type { Gauges } from './store.js';
import type { TimerRow, TimerSweep } from './timers.js';

/**
 * The store port: everything the runtime, the API and `sagactl --db` ask of storage, with two
 * adapters behind it, SQLite (one process, the embedded default) and PostgreSQL (replicas
 * sharing one database). Reads see committed data; every write of one input goes through
 * `commit` as one `InputWrite`, applied atomically or not at all.
 *
 * Concurrency is optimistic: a write names the instance version its decision was made on, and
 * the adapter refuses it (`conflict`) when another input got there first, in this process or
 * in another replica; the runtime then reads again and decides again. Inputs of one process
 * for one instance are serialized by the runtime, so a conflict means another replica.
 */
export interface StorePort {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the data lives, for log lines and sentences: a file path, or the URL without its password. */
  readonly where: string;
  /**
   * PostgreSQL: the database as it names itself, the same through any URL that reaches it (its
   * name and when sagad's schema was created in it): the replicas of one database share the
   * mark of their NATS consumer prefix (runtime/prefix-mark.ts). Absent for SQLite.
   */
  readonly identity?: string;
  readonly readonly: boolean;

  // ---- reads for deciding -------------------------------------------------------------------
  getInstance(id: string): Promise<InstanceState | undefined>;
  /** The instance of `saga` with business key `key`, or undefined. */
  findByKey(saga: string, key: string): Promise<InstanceState | undefined>;
  /** The instance that sent command `commandId`, with which step and side sent it; undefined when unknown. */
  replyTarget(commandId: string): Promise<ReplyTarget | undefined>;
  /**
   * The instances and steps whose wait may take an event of `type` on `subject` carrying
   * `correlationId`, oldest first: those that wait for that correlation id (a wait without
   * `match`) and those whose rows name none (their `match` decides, or the row was written
   * before the schema kept it, by an older build).
   */
  waiting(subject: string, type: string, correlationId: string): Promise<{ instanceId: string; step: string }[]>;

  // ---- the one write path --------------------------------------------------------------------
  /**
   * Applies one input atomically: the inbox id (or the fired timer), then each instance change
   * (journal events, projection row, outbox rows, timers, command index, waits). Concurrent
   * calls may share one transaction (group commit); each is all or nothing on its own.
   * Resolves once durable; rejects only on I/O failure (then nothing of it was written).
   */
  commit(write: InputWrite): Promise<WriteOutcome>;

  // ---- timers --------------------------------------------------------------------------------
  /**
   * Timers due at or before `now`, earliest first, at most `limit`. With replicas, the rows are
   * claimed for `claimMs`: another replica does not take them until the claim runs out, so a
   * timer is fired once, and a dead replica's claims pass to the others.
   *
   * With a `sweep`, the next page of a sweep through the due timers, read after `sweep.after`
   * and moving it on (to null when none was left): a caller that holds rows back (timers whose
   * firing keeps failing) reaches the rows behind them however many it holds. Paging so until
   * `after` is null returns each timer due throughout once (SQLite: instance by instance, an
   * instance's due timers in one page, more than `limit` only when it alone has more).
   */
  claimDueTimers(now: number, limit: number, claimMs: number, sweep?: TimerSweep): Promise<TimerRow[]>;
  /** The earliest due time, or null when no timer is scheduled. */
  nextDueAt(): Promise<number | null>;
  /** The instance's pending timers, earliest first. */
  timersOf(instanceId: string): Promise<TimerRow[]>;

  // ---- outbox --------------------------------------------------------------------------------
  /**
   * Unsent rows created at or before `createdBefore`, in seq order, at most `limit`, claimed for
   * `claimMs` like timers: how a replica publishes what a dead one committed but never sent.
   * A row whose instance has older unsent rows not among those returned (claimed by another
   * replica) names them in `follows`.
   */
  claimUnsent(limit: number, createdBefore: number, claimMs: number): Promise<OutboxRow[]>;
  /**
   * Those of `seqs` still unsent, in seq order, whoever claimed them: the rows a relay must
   * publish before a row whose `follows` names them (per-instance order across replicas).
   */
  unsentBySeq(seqs: readonly number[]): Promise<OutboxRow[]>;
  /**
   * Marks rows published (JetStream acknowledged them) by deleting them, as both adapters do
   * (SQLite since its migration 9, PostgreSQL since its schema 7); seqs already gone are
   * skipped. `at` is not kept.
   */
  markSent(seqs: readonly number[], at: number): Promise<void>;
  /**
   * Dead-letters an unsent row that can never be published (larger than NATS takes): deletes
   * it and parks `letter` in one transaction, and returns the letter's id. Null, parking
   * nothing, when the row is gone already (sent, or parked by another replica): a row is
   * never both, and is parked once.
   */
  parkOutboxRow(seq: number, letter: DeadLetterInput): Promise<string | null>;

  // ---- dead letters --------------------------------------------------------------------------
  /**
   * Stores the message byte for byte (committed on its own) and returns its id. With a
   * `deliveryId`, the delivery is remembered in the inbox in the same transaction, and a second
   * park of it (a redelivery after a crash before the ack) stores nothing and returns null.
   */
  park(letter: DeadLetterInput, deliveryId?: string): Promise<string | null>;
  /** A page of letters without their bodies, newest first, bounded by count and by size. */
  listDead(opts?: DeadListOptions): Promise<Page<DeadLetterSummary>>;
  getDead(id: string): Promise<DeadLetter | undefined>;
  /** Marks a letter redriven by `by`; false when there is none or it was redriven already (so it is redriven once). */
  markRedriven(id: string, at: number, by?: string | null): Promise<boolean>;
  deleteDead(id: string): Promise<boolean>;
  /** Drops the oldest letters beyond the cap, whether redriven or not; returns how many and their body bytes. */
  trimDead(cap: DeadLetterCap): Promise<{ dropped: number; bytes: number }>;

  // ---- definitions ---------------------------------------------------------------------------
  /** Stores a definition's source under its hash; a hash already stored keeps its first source. */
  rememberDefinition(hash: string, name: string, source: string, at?: number): Promise<void>;
  getDefinitionSource(hash: string): Promise<string | undefined>;
  listDefinitions(): Promise<{ hash: string; name: string; firstSeenAt: number }[]>;
  /** Definition hashes of the instances that may still receive an input (running, compensating, failed, compensated). */
  hashesInUse(): Promise<string[]>;

  // ---- early events (issue 12) ---------------------------------------------------------------
  /**
   * Keeps an event that arrived before the wait step of `e.instanceId` that awaits it started;
   * committed on its own, before the message's own write, so that a crash in between keeps it
   * (a redelivery keeps it again: the same instance and event id is kept once). `full`, keeping
   * nothing, when the instance already keeps `maxPerInstance` events; `processed`, keeping
   * nothing, when the message's id is in the inbox: a redelivery of a message already applied
   * (its ack was lost), which a later wait step must not take again.
   */
  keepEarlyEvent(e: EarlyEvent, maxPerInstance: number): Promise<KeepOutcome>;
  /** The instance's kept early events, oldest first. */
  earlyEventsOf(instanceId: string): Promise<EarlyEvent[]>;
  /**
   * At most `limit` each: kept events still valid at `now` whose instance now has a running
   * wait for their subject and type (a delivery that was missed), in (keptAt, instanceId,
   * eventId) order and only those after `after` when given (the sweep's cursor), and kept
   * events expired at `now`.
   */
  earlyEventsDue(now: number, limit: number, after?: EarlyEventKey | null): Promise<{ deliverable: EarlyEvent[]; expired: EarlyEvent[] }>;
  /** Forgets a kept early event (delivered or dead-lettered); nothing when it is gone already. */
  dropEarlyEvent(instanceId: string, eventId: string): Promise<void>;
  /**
   * Dead-letters a kept early event: forgets it and parks `letter` (as `park` with
   * `deliveryId`) in one transaction. True only when this call parked the letter, so that a
   * caller counts each letter once: false, parking nothing, when the event was gone already
   * (delivered or dead-lettered meanwhile: an event is never both), and false when a letter
   * was parked before under `deliveryId` (a repeat), which forgets the kept event all the same.
   */
  parkEarlyEvent(instanceId: string, eventId: string, letter: DeadLetterInput, deliveryId: string): Promise<boolean>;

  // ---- reads for operators -------------------------------------------------------------------
  listInstances(filter?: InstanceFilter): Promise<Page<InstanceSummary>>;
  /** The instance's journal as stored, oldest first; empty when unknown. */
  history(instanceId: string, after?: number): Promise<JournalEntry[]>;
  /** The state rebuilt from the journal alone (see `Instances.rebuild`); writes nothing. */
  rebuild(id: string, opts?: { fromScratch?: boolean }): Promise<InstanceState>;
  /**
   * Replays the instance's whole journal (upcast) and rewrites its row, and its snapshot,
   * where they differ from the replay, atomically; reports every difference. Running it again
   * finds none and writes nothing. Throws `SAGA_ERR_NOT_FOUND` for an instance without journal.
   */
  rebuildInstance(id: string): Promise<RebuildReport>;
  /** Ids of the instances that have a journal, after `after` (null: from the first) in id order, at most `limit`. */
  journalInstanceIds(after: string | null, limit: number): Promise<string[]>;
  gauges(): Promise<Gauges>;
  /** Instances of `saga` per definition hash, exact: count, count by state, first and last creation; most recently started first. */
  definitionVersions(saga: string): Promise<VersionCount[]>;
  /**
   * Exact nearest-rank p50/p99 of saga time (created to last update) of the instances created
   * at or after `since` that completed or compensated, per saga and state, per saga, per state
   * and overall (`durationGroups`).
   */
  sagaDurations(since: number): Promise<DurationGroup[]>;

  // ---- housekeeping --------------------------------------------------------------------------
  /** Forgets processed message ids recorded before `olderThan`; returns how many. */
  pruneInbox(olderThan: number): Promise<number>;
  /**
   * Deletes outbox rows sent before `olderThan`; returns how many. Only rows a PostgreSQL
   * database marked sent before its schema 7 are left to prune: since then a mark deletes.
   */
  pruneSent(olderThan: number): Promise<number>;
  /**
   * Retention: the next `limit` finished instances (completed, compensated; never failed)
   * after `after` (the pass's cursor; from the first by default), created and last changed
   * before `before` (one time, or one per status), oldest first, are read. Those to retire
   * (all but a child saga with an ancestor still running, compensating or failed, which may
   * yet ask it to compensate) are handed to `keep` with their journal and timers; once `keep`
   * resolves (the archive is synced), those still finished and unchanged are deleted with
   * their journal, snapshots, timers, commands and waits in one short transaction. When
   * `keep` rejects nothing is deleted. Replicas calling it at once get disjoint instances.
   * The outcome's `next` is where the pass goes on; null once it has read them all.
   */
  retire(before: RetireBefore, limit: number, keep: (batch: readonly RetiredInstance[]) => Promise<void>, after?: RetireCursor): Promise<RetireOutcome>;
  /** Deletes up to `limit` dead letters received before `olderThan`, oldest first; returns how many. */
  pruneDeadLetters(olderThan: number, limit: number): Promise<number>;
  /** Resolves once every commit queued so far has settled: a drain waits for it. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** What one `retire` call did: instances handed to the archive, and of them those deleted. */
export interface RetireOutcome {
  readonly archived: number;
  readonly deleted: number;
  /** Milliseconds the call held the event loop (SQLite's reads and delete run in it; PostgreSQL's in the server: 0). */
  readonly busyMs: number;
  /** Where the pass goes on (the last instance read, kept or not), or null when none is left to read. */
  readonly next: RetireCursor | null;
}

/** Where a reply goes: the command's instance, step and side, and the instance's state. */
export interface ReplyTarget extends CommandRef {
  readonly state: InstanceState;
}

/** A timer to (re)arm: one per (instance, timer id); putting it again moves it. */
export interface TimerPut {
  readonly timerId: string;
  readonly dueAt: number;
  readonly data: TimerRef;
}

/** What one decision changes of one instance. */
export interface InstanceChange {
  /** The version the decision was made on; 0 for a new instance. */
  readonly expectedVersion: number;
  /** The state after the decision (its `version` is `expectedVersion + events.length`). */
  readonly state: InstanceState;
  readonly events: readonly SagaEvent[];
  readonly outbox: readonly OutboxMessage[];
  readonly timers: { readonly put: readonly TimerPut[]; readonly cancel: readonly string[] };
  /** Commands sent, so that their replies find the instance. */
  readonly commands: readonly { readonly commandId: string; readonly step: string; readonly kind: CommandKind }[];
  /**
   * Wait steps that started (awaiting `type` on `subject`; `correlationId` the one an event
   * must carry, null when the step's `match` decides) and wait steps no longer waiting.
   */
  readonly waits: {
    readonly put: readonly { readonly step: string; readonly subject: string; readonly type: string; readonly correlationId: string | null }[];
    readonly remove: readonly string[];
  };
  /**
   * Inputs for linked instances (a child to start or compensate, a parent to tell of its
   * child's end) that the engine decides into further changes of the same write; the
   * adapters store nothing of them.
   */
  readonly links?: readonly LinkEffect[];
}

/** The effects that reach another instance (engine/runtime/linked.ts). */
export type LinkEffect = Extract<Effect, { type: 'StartChild' | 'CompensateChild' | 'HearChild' | 'NotifyParent' }>;

/** Everything one input writes. */
export interface InputWrite {
  /** The incoming message's eventId; when it was processed before, the write is a `duplicate`. */
  readonly messageId: string | null;
  /** The timer this input fires; when it no longer exists at that due time, the write is a `duplicate`. */
  readonly firedTimer: { readonly instanceId: string; readonly timerId: string; readonly dueAt: number } | null;
  readonly changes: readonly InstanceChange[];
  /**
   * The commands (their message ids) this input is a reply to. A reply proves its command was
   * delivered, and with it the rows of its instance's earlier commits (a relay sends an
   * instance's commits in order): none of them is named in `follows`, even before its relay
   * marked it sent. Not the other rows of the command's own commit: a relay sends those
   * together, and one may have failed while the command went through.
   */
  readonly answers?: readonly string[];
  /**
   * Instances this write's decisions read but do not change (a parent or child that a link
   * found with nothing to do), at the version read. The adapter checks them as it checks a
   * change's expected version: a stale one is a `conflict` naming the instance, and nothing is
   * written. Two writes that each read the other's instance cannot then both commit.
   */
  readonly reads?: readonly InstanceRead[];
}

/** An instance a write read without changing it, at the version its decisions saw. */
export interface InstanceRead {
  readonly instanceId: string;
  readonly version: number;
}

/** How a write ended. Only `committed` wrote anything. */
export type WriteOutcome =
  | { readonly status: 'committed'; readonly outbox: readonly OutboxRow[] }
  /** The message was processed before, or the timer already fired: nothing to do. */
  | { readonly status: 'duplicate' }
  /** Another writer changed the instance (or took its id or key) first: read again, decide again. */
  | { readonly status: 'conflict'; readonly instanceId: string };

/** Options every adapter takes. */
export interface PortOptions {
  /** Open for reading only (`sagactl --db`): migrates nothing; every write rejects. */
  readonly readonly?: boolean;
  /** Journal events of an instance between two snapshots; default 100. */
  readonly snapshotEvery?: number;
  /** Told after each shared commit: how many writes it carried and how long it took (seconds); for the metrics. */
  readonly onCommit?: (size: number, seconds: number) => void;
}
