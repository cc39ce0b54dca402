/**
 * Property-based tests of the `delay` and `saga` step kinds in the pure core
 * (fixtures/kinds.yaml). A small world plays the participants, the timer service, the
 * operator and, for `saga` steps, the shell's links (the runtime does them in one write,
 * engine/runtime/linked.ts): a StartChild starts the child, a CompensateChild feeds it
 * ParentCompensates, a NotifyParent feeds the parent ChildEnded. fast-check picks replies
 * (success or failure) to any command in flight, timers (fired when due, the clock moved to
 * them), cancels; then a drain answers everything with success, fires every timer and
 * retries failed instances. Checked after every input and at the end:
 *
 * - evolve over each journal equals the state decide returned;
 * - a delay ends once, never before the time it was set for, and a cancel or failure leaves no
 *   delay timer; an until that is not a time compensates; a completed saga shipped after both delays;
 * - one child per start, its id derived from the parent; a completed parent has a completed
 *   child; a compensated parent has no completed child, and every child step that was done is
 *   compensated; a child's end always reaches its parent (the parent's step is no longer
 *   waiting on a child that ended).
 *
 * `FC_SEED` and `FC_RUNS` replay or lengthen a run.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  decide, evolve, findLeaf, isRejection, isTerminal, start, timerId,
  type CompiledSaga, type Decision, type InstanceState, type SagaEvent, type SagaInput, type TimerRef,
} from '../../engine/core/index.js';
import { loadFixture } from './harness.js';

const sagas = loadFixture('kinds.yaml');
const runs = Number(process.env.FC_RUNS ?? 150);
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);

interface Cmd { readonly instance: string; readonly id: string; readonly step: string; readonly undo: boolean }
interface Timer { readonly instance: string; readonly id: string; readonly dueAt: number; readonly ref: TimerRef }

type Action =
  | { readonly do: 'reply'; readonly pick: number; readonly ok: boolean }
  | { readonly do: 'timer'; readonly pick: number }
  | { readonly do: 'cancel' };

const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ do: fc.constant('reply' as const), pick: fc.nat(20), ok: fc.boolean() }), weight: 5 },
  { arbitrary: fc.record({ do: fc.constant('timer' as const), pick: fc.nat(20) }), weight: 3 },
  { arbitrary: fc.constant({ do: 'cancel' as const }), weight: 1 },
);

/** The world around one root instance and the children it starts. */
class World {
  now = 0;
  private ids = 0;
  readonly states = new Map<string, InstanceState>();
  readonly journals = new Map<string, SagaEvent[]>();
  readonly cmds: Cmd[] = [];
  readonly timers: Timer[] = [];
  readonly childStarts: string[] = [];
  readonly problems: string[] = [];

  constructor(readonly root: string, private readonly rootSaga: string) {}

  private def(state: InstanceState): CompiledSaga {
    const d = sagas[state.saga];
    if (d === undefined) throw new Error(`no saga ${state.saga}`);
    return d;
  }

  private env() {
    return { now: this.now, newId: () => `m${++this.ids}`, random: () => 0.5 };
  }

  begin(input: unknown): void {
    const def = sagas[this.rootSaga];
    if (def === undefined) throw new Error('no root saga');
    this.absorb(start(def, { id: this.root, input, key: null, correlationId: 'c1', event: null, causationId: 'req' }, this.env()));
  }

  /** Feeds an input to an instance; its links are followed as the runtime does, in the same step. */
  feed(id: string, input: SagaInput): void {
    const state = this.states.get(id);
    if (state === undefined) return;
    const d = decide(this.def(state), state, input, this.env());
    if (isRejection(d)) return;
    this.absorb(d);
  }

  private absorb(d: Decision): void {
    const id = d.state.id;
    const journal = this.journals.get(id) ?? [];
    journal.push(...d.events);
    this.journals.set(id, journal);
    this.states.set(id, d.state);
    const replayed = journal.reduce<InstanceState | undefined>((s, e) => evolve(s, e), undefined);
    if (JSON.stringify(replayed) !== JSON.stringify(d.state)) this.problems.push(`${id}: replaying its journal does not give its state`);
    for (const e of d.events) this.checkEvent(id, e);
    for (const eff of d.effects) {
      switch (eff.type) {
        case 'SendCommand': this.cmds.push({ instance: id, id: eff.command.eventId, step: eff.step, undo: eff.side === 'undo' }); break;
        case 'ScheduleTimer': {
          this.dropTimer(id, eff.timerId);
          this.timers.push({ instance: id, id: eff.timerId, dueAt: eff.dueAt, ref: eff.timer });
          break;
        }
        case 'CancelTimer': this.dropTimer(id, eff.timerId); break;
        case 'PublishLifecycle': break;
        case 'StartChild': {
          if (this.states.has(eff.childId)) break;
          this.childStarts.push(eff.childId);
          const def = sagas[eff.saga];
          if (def === undefined) throw new Error(`no child saga ${eff.saga}`);
          this.absorb(start(def, {
            id: eff.childId, input: eff.input, key: eff.key, correlationId: eff.correlationId, event: null, causationId: id,
            parent: { id, saga: d.state.saga, step: eff.step },
          }, this.env()));
          break;
        }
        case 'CompensateChild': this.feed(eff.childId, { type: 'ParentCompensates', parentId: id }); break;
        case 'NotifyParent': this.feed(eff.parentId, eff.input); break;
      }
    }
  }

  private dropTimer(instance: string, id: string): void {
    const i = this.timers.findIndex((x) => x.instance === instance && x.id === id);
    if (i >= 0) this.timers.splice(i, 1);
  }

  private checkEvent(id: string, e: SagaEvent): void {
    if (e.type === 'StepSucceeded') {
      const started = (this.journals.get(id) ?? []).find((x) => x.type === 'DelayStarted' && x.step === e.step);
      if (started !== undefined && started.type === 'DelayStarted' && e.at < started.until) this.problems.push(`${id}: delay ${e.step} ended at ${e.at}, before ${started.until}`);
    }
  }

  reply(pick: number, ok: boolean): void {
    const c = this.cmds.splice(pick % Math.max(1, this.cmds.length), 1)[0];
    if (c === undefined) return;
    const state = this.states.get(c.instance);
    if (state === undefined) return;
    const l = findLeaf(this.def(state), c.step);
    const spec = c.undo ? l?.compensate?.reply : l?.kind === 'command' ? l.reply : undefined;
    const type = ok || c.undo ? spec?.success[0] : spec?.failure[0] ?? spec?.success[0];
    if (type === undefined) return;
    this.feed(c.instance, {
      type: 'ReplyReceived', message: { eventId: `r${++this.ids}`, eventType: type, correlationId: state.correlationId, causationId: c.id, aggregateId: 'a', version: 1, payload: { ref: `${c.step}-ref` } },
    });
  }

  fire(pick: number): void {
    const tm = this.timers.splice(pick % Math.max(1, this.timers.length), 1)[0];
    if (tm === undefined) return;
    this.now = Math.max(this.now, tm.dueAt);
    this.feed(tm.instance, { type: 'TimerFired', timer: tm.ref });
  }

  cancel(): void {
    this.feed(this.root, { type: 'CancelRequested', reason: 'property' });
  }

  /** Answers everything with success, fires every timer, retries failed instances (children first), until all rest. */
  drain(): void {
    for (let n = 0; n < 500; n++) {
      if (this.cmds.length > 0) {
        this.reply(0, true);
        continue;
      }
      if (this.timers.length > 0) {
        this.timers.sort((a, b) => a.dueAt - b.dueAt);
        this.fire(0);
        continue;
      }
      const failed = [...this.states.values()].filter((s) => s.status === 'failed').sort((a, b) => b.id.length - a.id.length)[0];
      if (failed === undefined) return;
      this.feed(failed.id, { type: 'RetryRequested' });
    }
    this.problems.push('the drain did not settle');
  }

  timerIds(instance: string): string[] {
    return this.timers.filter((x) => x.instance === instance).map((x) => x.id);
  }
}

const playScript = (w: World, actions: readonly Action[]) => {
  for (const a of actions) {
    if (a.do === 'reply') w.reply(a.pick, a.ok);
    else if (a.do === 'timer') w.fire(a.pick);
    else w.cancel();
  }
};

t.test('delay: ends once and not before its time, survives nothing it should not, compensates a bad until', (t) => {
  const shipAt = fc.oneof(fc.constant('1970-01-01T00:00:10.000Z'), fc.constant('1970-01-01T00:05:00.000Z'), fc.constant('not a time'), fc.constant(120_000));
  fc.assert(fc.property(shipAt, fc.array(action, { maxLength: 25 }), (ship, actions) => {
    const w = new World('r1', 'reminder');
    w.begin({ order: 'o1', shipAt: ship });
    playScript(w, actions);
    w.drain();
    const s = w.states.get('r1');
    const journal = w.journals.get('r1') ?? [];
    if (s === undefined) return false;
    t.same(w.problems, [], 'no problem on the way');
    for (const step of ['cool-off', 'ship-day']) {
      const ends = journal.filter((e) => e.type === 'StepSucceeded' && e.step === step).length;
      if (ends > 1) t.fail(`${step} ended ${ends} times`);
    }
    t.ok(isTerminal(s), `ends ${s.status}`);
    t.same(w.timerIds('r1'), [], 'no timer left');
    if (ship === 'not a time' && journal.some((e) => e.type === 'DelayStarted' && e.step === 'cool-off' && s.steps['cool-off']?.status === 'succeeded')) {
      t.equal(s.status, 'compensated', 'an until that is not a time compensates');
    }
    if (s.status === 'completed') {
      const until = journal.flatMap((e) => (e.type === 'DelayStarted' ? [e.until] : []));
      const shipped = journal.find((e) => e.type === 'StepDispatched' && e.step === 'ship');
      t.ok(until.length === 2 && shipped !== undefined && until.every((u) => shipped.at >= u), 'shipped after both delays');
    }
    return w.problems.length === 0;
  }), { numRuns: runs, ...(seed === undefined ? {} : { seed }) });
  t.end();
});

t.test('saga step: one child per start, its end reaches the parent, a compensated parent leaves no completed child', (t) => {
  fc.assert(fc.property(fc.array(action, { maxLength: 30 }), (actions) => {
    const w = new World('p1', 'trip-parent');
    w.begin({ trip: 't1' });
    playScript(w, actions);
    w.drain();
    const p = w.states.get('p1');
    if (p === undefined) return false;
    t.same(w.problems, [], 'no problem on the way');
    t.equal(new Set(w.childStarts).size, w.childStarts.length, 'each child started once');
    t.ok(w.childStarts.every((id) => id.startsWith('p1.book.')), 'child ids derive from the parent and step');
    const children = w.childStarts.map((id) => w.states.get(id)).filter((c): c is InstanceState => c !== undefined);
    t.ok(isTerminal(p), `the parent ends (${p.status})`);
    for (const c of children) {
      t.ok(isTerminal(c), `the child ends (${c.status})`);
      t.equal(c.parent?.id, 'p1', 'the child names its parent');
    }
    if (p.status === 'completed') t.ok(children.length === 1 && children[0]?.status === 'completed', 'a completed parent has its completed child');
    if (p.status === 'compensated') {
      for (const c of children) {
        t.not(c.status, 'completed', 'a compensated parent leaves no completed child');
        for (const [name, st] of Object.entries(c.steps)) {
          if (st.outcome === 'done') t.equal(st.compensation?.status, 'compensated', `child step ${name}, done, is compensated`);
        }
      }
      const book = p.steps.book;
      if (book !== undefined && book.status === 'succeeded') t.equal(book.compensation?.status, 'compensated', 'a completed child step is compensated in the parent');
    }
    t.same(w.timerIds('p1'), [], 'no parent timer left');
    return w.problems.length === 0;
  }), { numRuns: runs, ...(seed === undefined ? {} : { seed }) });
  t.end();
});

t.test('the timer ids of the new kinds are stable', (t) => {
  t.equal(timerId({ kind: 'delay', step: 'cool-off' }), 'delay:cool-off');
  t.equal(timerId({ kind: 'child_timeout', step: 'book' }), 'child_timeout:book');
  t.end();
});
