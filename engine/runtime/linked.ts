import { childEnded, findLeaf, isRejection, leafSteps, type CompiledSaga, type Decision, type InstanceState, type ParentLink, type Rejection, type SagaInput } from '../core/index.js';
import { SagaError } from '../errors.js';
import type { InstanceChange, InputWrite, LinkEffect } from '../store/port.js';
import { changeOf, decidedLike } from './change.js';
import type { PlannedStart } from './start-plan.js';

/** What following links needs of the engine: reading instances, their definitions, and planning a child's start. */
export interface LinkDeps {
  getInstance(id: string): Promise<InstanceState | undefined>;
  defOf(state: InstanceState): Promise<CompiledSaga>;
  /** Decides a child's start (with the definition it starts on) without writing it; null change when an instance of that id or key exists (its state is returned). */
  planChild(cmd: { saga: string; input: unknown; key: string | undefined; id: string; correlationId: string; parent: ParentLink }): Promise<PlannedStart>;
  decide(def: CompiledSaga, state: InstanceState, input: SagaInput): Decision | Rejection;
}

/** Links followed in one write at most: a chain of children ending at once is short; a longer one is a bug. */
const MAX_LINKS = 1_000;

/**
 * Adds to a write the changes its links cause: a child started (with its parent link), a child
 * told that its parent compensates, a parent told that its child ended, each decided on the
 * latest state of its instance in this write, and their own links in turn. One write, one
 * transaction: a child starts once with its parent's commit, and its end reaches the parent
 * once with its own. No second lock is taken (a lock held while waiting for another could
 * deadlock a parent and its child); the store's version check turns a race into a retry. That
 * check covers the instances a link read and left unchanged too (`reads`): a parent's retry
 * that finds its child still compensating and a child's end that finds its parent still
 * failed, each leaving the other as it was, would otherwise both commit, and the parent would
 * wait for a child that has already ended.
 */
export async function withLinks(w: InputWrite, deps: LinkDeps): Promise<InputWrite> {
  if (!w.changes.some((c) => (c.links?.length ?? 0) > 0)) return w;
  const changes = [...w.changes];
  const latest = new Map<string, InstanceState>();
  const scope: WriteScope = { unstarted: new Set(), keys: new Map() };
  for (const c of changes) {
    latest.set(c.state.id, c.state);
    holdKey(scope, c);
  }
  // Each instance is read from the store once per write: a later link decides on the state an
  // earlier one saw, and a change of it expects the version that read found. An instance not in
  // the store is not recorded: a parent never comes back, and a child is created only by a write
  // of its parent, which a link reaching that child changes.
  const stored = new Map<string, number>();
  const read = async (id: string) => {
    const known = latest.get(id);
    if (known !== undefined) return known;
    const s = await deps.getInstance(id);
    if (s !== undefined) {
      latest.set(id, s);
      stored.set(id, s.version);
    }
    return s;
  };
  const queue: { link: LinkEffect; from: InstanceState }[] = changes.flatMap((c) => (c.links ?? []).map((link) => ({ link, from: c.state })));
  for (let n = 0; queue.length > 0; n++) {
    if (n >= MAX_LINKS) throw new Error(`a write followed more than ${MAX_LINKS} links between parent and child sagas`);
    const { link, from } = queue.shift() as { link: LinkEffect; from: InstanceState };
    for (const next of await follow(link, from, read, deps, scope)) {
      putChange(changes, next);
      holdKey(scope, next);
      latest.set(next.state.id, next.state);
      for (const l of next.links ?? []) queue.push({ link: l, from: next.state });
    }
  }
  const changed = new Set(changes.map((c) => c.state.id));
  const reads = [...w.reads ?? [], ...[...stored].filter(([id]) => !changed.has(id)).map(([instanceId, version]) => ({ instanceId, version }))];
  return { ...w, changes, ...(reads.length === 0 ? {} : { reads }) };
}

/**
 * Adds a change to the changes of one write, merged into the instance's change already there:
 * one change per instance and write, as an adapter checks each against the version it read
 * before the write (a second change of the instance would lose that check every time). Merged
 * into the last, so that even a list that already held two of the instance stays in order.
 */
export function putChange(changes: InstanceChange[], c: InstanceChange): void {
  const at = changes.findLastIndex((x) => x.state.id === c.state.id);
  const prior = changes[at];
  if (prior === undefined) changes.push(c);
  else changes[at] = decidedLike(mergeChanges(prior, c), prior);
}

/**
 * What following the links of one write has learnt: `unstarted` holds the children of this
 * write that could not start (a later request of the same write to compensate one is answered
 * that nothing was done); `keys` the instances this write creates, by saga and key, as the
 * store's unique key index would have them once it is committed.
 */
interface WriteScope {
  readonly unstarted: Set<string>;
  readonly keys: Map<string, string>;
}

const keyOf = (saga: string, key: string) => JSON.stringify([saga, key]);

/** Notes the key of an instance the change creates: a child planned later in the write must not take it too. */
function holdKey(scope: WriteScope, c: InstanceChange): void {
  if (c.expectedVersion !== 0 || c.state.key === null) return;
  const k = keyOf(c.state.saga, c.state.key);
  if (!scope.keys.has(k)) scope.keys.set(k, c.state.id);
}

/** Pure: keyed puts and removals of a first change, then of a second: the later word on each key wins. */
function overlay<T>(aPut: readonly T[], aGone: readonly string[], bPut: readonly T[], bGone: readonly string[], key: (x: T) => string): { put: T[]; gone: string[] } {
  const put = new Map(aPut.map((x) => [key(x), x]));
  const gone = new Set(aGone);
  for (const k of bGone) {
    put.delete(k);
    gone.add(k);
  }
  for (const x of bPut) {
    gone.delete(key(x));
    put.set(key(x), x);
  }
  return { put: [...put.values()], gone: [...gone] };
}

/** Pure: two successive changes of one instance as one, as if decided at once (the later's timers and waits win). */
export function mergeChanges(a: InstanceChange, b: InstanceChange): InstanceChange {
  if (b.expectedVersion !== a.expectedVersion + a.events.length) throw new Error(`change of ${a.state.id} at version ${b.expectedVersion} does not follow one ending at ${a.expectedVersion + a.events.length}`);
  const timers = overlay(a.timers.put, a.timers.cancel, b.timers.put, b.timers.cancel, (x) => x.timerId);
  const waits = overlay(a.waits.put, a.waits.remove, b.waits.put, b.waits.remove, (x) => x.step);
  const links = [...(a.links ?? []), ...(b.links ?? [])];
  return {
    expectedVersion: a.expectedVersion,
    state: b.state,
    events: [...a.events, ...b.events],
    outbox: [...a.outbox, ...b.outbox],
    timers: { put: timers.put, cancel: timers.gone },
    commands: [...a.commands, ...b.commands],
    waits: { put: waits.put, remove: waits.gone },
    ...(links.length === 0 ? {} : { links }),
  };
}

/** Follows one link, within what the write has done so far (`scope`). */
async function follow(
  link: LinkEffect, from: InstanceState, read: (id: string) => Promise<InstanceState | undefined>, deps: LinkDeps, scope: WriteScope,
): Promise<InstanceChange[]> {
  const { unstarted } = scope;
  switch (link.type) {
    case 'StartChild': {
      if (await read(link.childId) !== undefined) return [];
      const parent: ParentLink = { id: from.id, saga: from.saga, step: link.step };
      // `not_started`: the step fails, or, when the parent already compensates the step (a
      // sibling failed in the same decision, which gave the step up), its compensation is done
      // with nothing to undo, in flight or still queued. Told `failed` instead, the parent's
      // compensation failed and every retry of it found no child to compensate.
      const tell = async (reason: string) => {
        unstarted.add(link.childId);
        return inputTo(from.id, { type: 'ChildEnded', step: link.step, childId: link.childId, outcome: 'not_started', output: null, reason }, read, deps);
      };
      try {
        const plan = await deps.planChild({ saga: link.saga, input: link.input, key: link.key ?? undefined, id: link.childId, correlationId: link.correlationId, parent });
        // The store knows only the instances committed before this write: one that this write
        // starts (a sibling, another parent's child, a trigger's) holds its key as well, and a
        // second insert of the key would fail the whole write on the unique index, every time.
        const holder = plan.change === null || plan.state.key === null ? undefined : scope.keys.get(keyOf(plan.state.saga, plan.state.key));
        if (holder !== undefined) return tell(`saga ${link.saga} already has instance ${holder} for key ${JSON.stringify(plan.state.key)}`);
        if (plan.change !== null) {
          // The loader checked the parent against the child of its own file; a reload since may
          // have given the child a pivot that this instance's step could not compensate past.
          const pivot = leafSteps(plan.def).find((l) => l.kind === 'command' && l.pivot);
          if (pivot !== undefined && findLeaf(await deps.defOf(from), link.step)?.afterPivot === false) {
            return tell(`child saga ${link.saga} as loaded now has the pivot ${pivot.name} and could not be undone past it, `
              + `but step ${link.step} of this instance may have to be compensated; it was not started`);
          }
          return [plan.change];
        }
        // Another instance holds the child's key: the parent's step cannot have its child.
        return tell(`saga ${link.saga} already has instance ${plan.state.id} for key ${JSON.stringify(plan.state.key)}`);
      } catch (err) {
        // The child cannot start (unknown saga after a reload, an input its schema refuses): the step fails, the parent goes on.
        if (err instanceof SagaError) return tell(`child saga ${link.saga} could not start: ${err.message}`);
        throw err;
      }
    }
    case 'CompensateChild': {
      // Its start failed in this write: it did nothing (a parent that no longer awaits it ignores this).
      if (unstarted.has(link.childId)) {
        return inputTo(from.id, {
          type: 'ChildEnded', step: link.step, childId: link.childId, outcome: 'not_started', output: null, reason: 'it never started, so nothing is undone',
        }, read, deps);
      }
      const child = await read(link.childId);
      // Not in the store: retention keeps the children of an unfinished parent, so it never
      // started (its start failed in a write of an older sagad, which did not record that), or it
      // was deleted by hand or lost in a restore. Nobody can say it was undone, so the parent's
      // compensation of the step fails and waits for an operator.
      if (child === undefined) {
        return inputTo(from.id, {
          type: 'ChildEnded', step: link.step, childId: link.childId, outcome: 'failed', output: null,
          reason: `child ${link.childId} is not in the store, so it cannot be compensated: either it never started (then it did nothing), `
            + 'or it was deleted or lost in a restore (then undo its work by hand)',
        }, read, deps);
      }
      return inputTo(link.childId, { type: 'ParentCompensates', parentId: from.id }, read, deps);
    }
    case 'HearChild': {
      const child = await read(link.childId);
      if (child === undefined || child.parent?.id !== from.id) return [];
      const outcome = child.status === 'completed' || child.status === 'compensated' || child.status === 'failed' ? child.status : null;
      // Still running: its end reaches this instance as any child's does.
      const input = outcome === null ? null : childEnded(child, outcome, null);
      return input === null ? [] : inputTo(from.id, input, read, deps);
    }
    case 'NotifyParent':
      return inputTo(link.parentId, link.input, read, deps);
  }
}

/** Decides `input` for instance `id` on its latest state: its change, or none (gone, ignored, or refused). */
async function inputTo(id: string, input: SagaInput, read: (id: string) => Promise<InstanceState | undefined>, deps: LinkDeps): Promise<InstanceChange[]> {
  const state = await read(id);
  if (state === undefined) return [];
  const def = await deps.defOf(state);
  const d = deps.decide(def, state, input);
  if (isRejection(d)) return [];
  const c = changeOf(def, state, d);
  return c === null ? [] : [c];
}
