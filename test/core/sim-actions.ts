/**
 * The random moves of the forEach property tests (for-each-property.test.ts,
 * for-each-group-property.test.ts) on the core's simulator (sim.ts): replies of every kind to
 * the commands sent, timers, cancels, retries and clock moves, and the drain's progress.
 */
import fc from 'fast-check';
import { isRejection } from '../../engine/core/index.js';
import { note, type Sim, type Sent } from './sim.js';

/** What a participant answers: a success, a failure, a retryable reply, or a type the step does not expect. */
export type Kind = 'success' | 'failure' | 'retryable' | 'odd';
/** One random move on a simulated instance: a reply to a command sent (the latest or an earlier one, maybe twice), a pending timer firing, an operator's cancel or retry, the clock moving, or the instance's own progress. */
export type Action =
  | { readonly do: 'reply'; readonly back: number; readonly kind: Kind; readonly dup: boolean }
  | { readonly do: 'timer'; readonly pick: number }
  | { readonly do: 'cancel' }
  | { readonly do: 'retry' }
  | { readonly do: 'clock'; readonly delta: number }
  | { readonly do: 'progress' };

/** Random moves, replies weighted most. */
export const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ do: fc.constant('reply' as const), back: fc.oneof(fc.constant(0), fc.nat(10)), kind: fc.constantFrom<Kind>('success', 'success', 'failure', 'retryable', 'odd'), dup: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ do: fc.constant('timer' as const), pick: fc.nat(8) }) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('cancel' as const) }) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('retry' as const) }) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('clock' as const), delta: fc.nat(8000) }) },
  { weight: 3, arbitrary: fc.record({ do: fc.constant('progress' as const) }) },
);

function typeFor(sim: Sim, s: Sent, kind: Kind): string {
  const l = sim.leaf(s.step);
  const spec = s.undo ? l.compensate?.reply : l.kind === 'command' ? l.reply : undefined;
  if (spec === undefined || kind === 'odd') return 'SomethingElse';
  const lists = kind === 'success' ? [spec.success] : kind === 'failure' ? [spec.failure, spec.retryable, spec.success] : [spec.retryable, spec.failure, spec.success];
  return lists.find((l) => l.length > 0)?.[0] ?? 'SomethingElse';
}

/** One step towards the end: the newest unanswered command answered with success, an operator retry, or the earliest timer. */
export function progress(sim: Sim): boolean {
  const newest = sim.sent.filter((x) => !x.replied).at(-1);
  if (newest !== undefined) {
    sim.reply(newest, typeFor(sim, newest, 'success'), { id: `${newest.step}-done` }, 0.5, false);
    return true;
  }
  if (sim.state.status === 'failed') {
    sim.feed({ type: 'RetryRequested' }, 0.5, 'operator retry');
    return true;
  }
  const next = [...sim.timers.values()].sort((x, y) => x.dueAt - y.dueAt)[0];
  if (next === undefined) return false;
  sim.fire(next, 0.5, false);
  return true;
}

/** Applies one random move to the simulated instance. */
export function act(sim: Sim, a: Action): void {
  switch (a.do) {
    case 'reply': {
      const cmd = sim.sent[sim.sent.length - 1 - (a.back % Math.max(1, sim.sent.length))];
      if (cmd !== undefined) sim.reply(cmd, typeFor(sim, cmd, a.kind), a.kind === 'success' ? { id: `${cmd.step}-done` } : { why: 'because' }, 0.5, a.dup);
      return;
    }
    case 'timer': {
      const due = [...sim.timers.values()].sort((x, y) => x.dueAt - y.dueAt);
      const row = due[a.pick % Math.max(1, due.length)];
      if (row !== undefined) sim.fire(row, 0.5, false);
      return;
    }
    case 'cancel': {
      const d = sim.feed({ type: 'CancelRequested', reason: 'property test' }, 0.5, 'cancel');
      note(`cancel ${isRejection(d) ? d.rejected.code : 'accepted'}`);
      return;
    }
    case 'retry':
      sim.feed({ type: 'RetryRequested' }, 0.5, 'retry');
      return;
    case 'clock':
      sim.now += a.delta;
      return;
    case 'progress':
      progress(sim);
      return;
  }
}
