import { isRejection, type CompiledSaga, type Decision, type InstanceState, type ParentLink, type Rejection, type SagaInput } from '../core/index.js';
import { SagaError } from '../errors.js';
import type { InstanceChange, InputWrite, LinkEffect } from '../store/port.js';
import { changeOf } from './change.js';

/** What following links needs of the engine: reading instances, their definitions, and planning a child's start. */
export interface LinkDeps {
  getInstance(id: string): Promise<InstanceState | undefined>;
  defOf(state: InstanceState): Promise<CompiledSaga>;
  /** Decides a child's start without writing it; null change when an instance of that id or key exists (its state is returned). */
  planChild(cmd: { saga: string; input: unknown; key: string | undefined; id: string; correlationId: string; parent: ParentLink }): Promise<{ state: InstanceState; change: InstanceChange | null }>;
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
 * deadlock a parent and its child); the store's version check turns a race into a retry.
 */
export async function withLinks(w: InputWrite, deps: LinkDeps): Promise<InputWrite> {
  if (!w.changes.some((c) => (c.links?.length ?? 0) > 0)) return w;
  const changes = [...w.changes];
  const latest = new Map<string, InstanceState>();
  for (const c of changes) latest.set(c.state.id, c.state);
  const read = async (id: string) => latest.get(id) ?? await deps.getInstance(id);
  for (let i = 0; i < changes.length; i++) {
    const from = changes[i];
    if (from === undefined) continue;
    for (const link of from.links ?? []) {
      if (changes.length > MAX_LINKS) throw new Error(`a write followed more than ${MAX_LINKS} links between parent and child sagas`);
      for (const next of await follow(link, from.state, read, deps)) {
        changes.push(next);
        latest.set(next.state.id, next.state);
      }
    }
  }
  return { ...w, changes };
}

async function follow(link: LinkEffect, from: InstanceState, read: (id: string) => Promise<InstanceState | undefined>, deps: LinkDeps): Promise<InstanceChange[]> {
  switch (link.type) {
    case 'StartChild': {
      if (await read(link.childId) !== undefined) return [];
      const parent: ParentLink = { id: from.id, saga: from.saga, step: link.step };
      const tell = async (reason: string) => inputTo(from.id, { type: 'ChildEnded', step: link.step, childId: link.childId, outcome: 'failed', output: null, reason }, read, deps);
      try {
        const plan = await deps.planChild({ saga: link.saga, input: link.input, key: link.key ?? undefined, id: link.childId, correlationId: link.correlationId, parent });
        if (plan.change !== null) return [plan.change];
        // Another instance holds the child's key: the parent's step cannot have its child.
        return tell(`saga ${link.saga} already has instance ${plan.state.id} for key ${JSON.stringify(plan.state.key)}`);
      } catch (err) {
        // The child cannot start (unknown saga after a reload, an input its schema refuses): the step fails, the parent goes on.
        if (err instanceof SagaError) return tell(`child saga ${link.saga} could not start: ${err.message}`);
        throw err;
      }
    }
    case 'CompensateChild': {
      const child = await read(link.childId);
      // Never started: nothing to undo.
      if (child === undefined) return inputTo(from.id, { type: 'ChildEnded', step: link.step, childId: link.childId, outcome: 'compensated', output: null, reason: 'the child never started' }, read, deps);
      return inputTo(link.childId, { type: 'ParentCompensates', parentId: from.id }, read, deps);
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
