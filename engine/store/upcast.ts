import { eventVersion, type SagaEvent, type SagaEventType } from '../core/index.js';
import { StoreError, StoreErrorCode } from './errors.js';

/** Turns the data of one event type at version `v` into the data at version `v + 1`. */
export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

/** Upcasters by event type, then by the version they read: `{StepSucceeded: {1: v1ToV2}}`. */
export type Upcasters = Readonly<Partial<Record<SagaEventType, Readonly<Record<number, Upcaster>>>>>;

function isEventType(type: string): type is SagaEventType {
  return Object.hasOwn(eventVersion, type);
}

/**
 * Reads one stored event at the current version of its type (core `eventVersion`), applying
 * upcasters one version at a time. Throws `SAGA_ERR_UNREADABLE_EVENT` for an unknown type, a
 * version newer than this build, or a missing upcaster.
 */
export function upcast(type: string, version: number, data: unknown, upcasters: Upcasters): SagaEvent {
  if (!isEventType(type)) throw new StoreError(StoreErrorCode.UnreadableEvent, `journal event type ${type} is unknown to this build`);
  const current = eventVersion[type];
  if (version > current) {
    throw new StoreError(StoreErrorCode.UnreadableEvent, `journal event ${type}@${version} is newer than this build reads (${type}@${current})`);
  }
  let out = data as Record<string, unknown>;
  for (let v = version; v < current; v++) {
    const fn = upcasters[type]?.[v];
    if (fn === undefined) throw new StoreError(StoreErrorCode.UnreadableEvent, `no upcaster for journal event ${type}@${v} (current ${type}@${current})`);
    out = fn(out);
  }
  return out as unknown as SagaEvent;
}

/**
 * The registered upcasters: the one place to add a reader of an older journal event version,
 * used by every store (SQLite and PostgreSQL, sagad and `sagactl --db`) unless a caller passes
 * its own. When the data of an event type changes, raise its version in core `eventVersion`
 * and add here the function from the old version's data to the next one's; see
 * docs/journal.md. Empty while every event type is at its first version.
 */
export const journalUpcasters: Upcasters = {};
