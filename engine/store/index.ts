/** The SQLite store: schema, migrations and synchronous queries (DESIGN section 6). */
export { openStore, type Gauges, type Store, type StoreOptions } from './store.js';
export { StoreError, StoreErrorCode, isStoreUnavailable } from './errors.js';
export { migrations, schemaVersion, migrate, type Migration } from './migrations.js';
export type { Journal, JournalEntry } from './journal.js';
export type { Instances } from './instances.js';
export type { InstanceFilter, InstanceList, InstanceSummary } from './list.js';
export type { Page } from './cursor.js';
export type { Inbox } from './inbox.js';
export type { Outbox, OutboxMessage, OutboxRow } from './outbox.js';
export type { Timers, TimerRow } from './timers.js';
export { CommandKind, type CommandRef, type Routing } from './routing.js';
export type { DeadLetter, DeadLetterCap, DeadLetterInput, DeadLetters, DeadLetterSummary, DeadListOptions } from './dlq.js';
export type { Definitions } from './definitions.js';
export type { Headers } from './bytes.js';
export type { Upcaster, Upcasters } from './upcast.js';
export type { EarlyEvent, EarlyEvents, KeepOutcome } from './early-events.js';
export { durationGroups, FINISHED, versionCounts, type DurationCount, type DurationGroup, type Finished, type Insights, type Percentiles, type VersionCount } from './insights.js';
