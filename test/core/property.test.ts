/**
 * Property-based tests of the pure core. A small simulator plays the participants, the timer
 * service and the operator around one instance: fast-check picks replies to any command ever
 * sent (late ones included), duplicates, timers (stale ones included), cancels, retries, wait
 * events and clock moves; then a drain answers everything with success. The simulator keeps
 * its own model of what the participants did (a step's work happened when a success reply to
 * its do-command was delivered; it was undone when a success reply to an undo was delivered)
 * and checks the core against DESIGN section 1 after every input:
 *
 * 1. completed: every step succeeded or skipped by its `when`; compensated: exactly the
 *    compensable steps whose do-command was sent and not refused (or that reported success
 *    anyway, late ones included) are compensated, each confirmed by an undo success, and no
 *    step without compensation reported done; failed: only with the head's compensation out of
 *    attempts, or after the pivot. After the drain (operator retries allowed): completed or
 *    compensated, nothing unanswered, no timer left, and never stuck (whatever is awaited has
 *    a timer pending).
 * 2. CompensationStarted's queue is those steps in reverse journal completion order (strictly
 *    descending doneSeq); undos run one at a time and their first dispatches follow that
 *    queue, each late success (LateSuccessRecorded with a queue) spliced in right after the
 *    undo in flight.
 * 3. No StepDispatched (do-command) after CompensationStarted.
 * 4. The same reply, event or timer again right away: ignored, no events, no effects; a reply
 *    or event the core took once is ignored when redelivered later; a cancelled or fired timer
 *    changes nothing.
 * 5. evolve over the journal equals the state decide returned, after every input and from
 *    scratch at the end.
 * 6. Once the pivot succeeded no compensation starts, and cancel is rejected with
 *    SAGA_ERR_PAST_PIVOT (while the pivot is out: rejected so, or compensating).
 * 7. Idempotency-Key `<id>/<step>/do|undo` on every attempt; Saga-Step and Saga-Attempt match
 *    the journal event that records the command.
 * Also: retry delays within [0, cap] for any Env.random, lifecycle effects one for one with
 * lifecycle events. `FC_SEED` and `FC_RUNS` replay or lengthen a run.
 */
import fc from 'fast-check';
import t from 'tap';
import { backoffDelay, isRejection, leafSteps } from '../../engine/core/index.js';
import { seen, note, asIs, Sim, describe, type Sent, type SimOptions } from './sim.js';
import { order, trip, cap, type SagaCase } from './sim-sagas.js';

// ---------------------------------------------------------------------------------------------
// Actions

type ReplyKind = 'success' | 'failure' | 'retryable' | 'odd';

type Action =
  | { readonly do: 'reply'; readonly back: number; readonly kind: ReplyKind; readonly field: boolean; readonly dup: boolean; readonly random: number }
  | { readonly do: 'redeliver'; readonly back: number; readonly random: number }
  | { readonly do: 'timer'; readonly pick: number; readonly stale: boolean; readonly dup: boolean; readonly random: number }
  | { readonly do: 'event'; readonly matching: boolean; readonly wrongType: boolean; readonly dup: boolean; readonly random: number }
  | { readonly do: 'cancel'; readonly random: number }
  | { readonly do: 'retry'; readonly random: number }
  | { readonly do: 'clock'; readonly delta: number }
  | { readonly do: 'progress' };

const random = fc.oneof(
  { arbitrary: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), weight: 4 },
  { arbitrary: fc.constantFrom(0, 1 - Number.EPSILON), weight: 1 },
);
/** Mostly the newest command, often an older one: late replies. */
const back = fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.nat(12), weight: 2 });

/** How a scenario's participants behave: weights of each action and of each reply kind. */
interface Profile {
  readonly reply: number; readonly kinds: readonly ReplyKind[]; readonly redeliver: number; readonly timer: number;
  readonly event: number; readonly cancel: number; readonly retry: number; readonly clock: number;
  /** One step of the drain: moves the saga forward, so long scenarios get past the pivot. */
  readonly progress: number;
}

const profiles: Readonly<Record<'happy' | 'mixed' | 'hostile', Profile>> = {
  // Gets past the pivot often: the post-pivot rules and late cancels.
  happy: { reply: 14, kinds: ['success', 'success', 'success', 'success', 'retryable', 'odd', 'failure'], redeliver: 1, timer: 3, event: 2, cancel: 1, retry: 1, clock: 1, progress: 6 },
  mixed: { reply: 10, kinds: ['success', 'success', 'failure', 'retryable', 'odd'], redeliver: 2, timer: 5, event: 2, cancel: 1, retry: 1, clock: 2, progress: 2 },
  // Undo attempts running out: the failed state and operator retries.
  hostile: { reply: 8, kinds: ['success', 'failure', 'retryable', 'retryable'], redeliver: 1, timer: 9, event: 1, cancel: 2, retry: 2, clock: 1, progress: 1 },
};

function actions(p: Profile): fc.Arbitrary<Action[]> {
  const action: fc.Arbitrary<Action> = fc.oneof(
    { weight: p.reply, arbitrary: fc.record({ do: fc.constant('reply' as const), back, kind: fc.constantFrom(...p.kinds), field: fc.boolean(), dup: fc.boolean(), random }) },
    { weight: p.redeliver, arbitrary: fc.record({ do: fc.constant('redeliver' as const), back, random }) },
    { weight: p.timer, arbitrary: fc.record({ do: fc.constant('timer' as const), pick: fc.nat(8), stale: fc.constantFrom(false, false, false, true), dup: fc.boolean(), random }) },
    { weight: p.event, arbitrary: fc.record({ do: fc.constant('event' as const), matching: fc.boolean(), wrongType: fc.boolean(), dup: fc.boolean(), random }) },
    { weight: p.cancel, arbitrary: fc.record({ do: fc.constant('cancel' as const), random }) },
    { weight: p.retry, arbitrary: fc.record({ do: fc.constant('retry' as const), random }) },
    { weight: p.clock, arbitrary: fc.record({ do: fc.constant('clock' as const), delta: fc.oneof(fc.nat(6000), fc.nat(3 * 3600_000)) }) },
    { weight: p.progress, arbitrary: fc.record({ do: fc.constant('progress' as const) }) },
  );
  return fc.array(action, { maxLength: 60 });
}

function pickType(sim: Sim, s: Sent, kind: ReplyKind): string {
  const l = sim.leaf(s.step);
  const spec = s.undo ? l.compensate?.reply : l.kind === 'command' ? l.reply : undefined;
  if (spec === undefined) return 'Odd';
  const order: Record<ReplyKind, readonly (readonly string[])[]> = {
    success: [spec.success],
    failure: [spec.failure, spec.retryable, spec.success],
    retryable: [spec.retryable, spec.failure, spec.success],
    odd: [['SomethingElse']],
  };
  return order[kind].find((types) => types.length > 0)?.[0] ?? 'SomethingElse';
}

const successPayload = (field: boolean) => (field ? { reservationId: 'res-1', chargeId: 'ch-1', ref: 'ref-1' } : {});

function act(sim: Sim, a: Action): void {
  const s = sim.state;
  switch (a.do) {
    case 'reply': {
      const cmd = sim.sent[sim.sent.length - 1 - (a.back % sim.sent.length)];
      if (cmd !== undefined) sim.reply(cmd, pickType(sim, cmd, a.kind), a.kind === 'success' ? successPayload(a.field) : { why: 'because' }, a.random, a.dup);
      return;
    }
    case 'redeliver': {
      const first = sim.delivered[sim.delivered.length - 1 - (a.back % Math.max(1, sim.delivered.length))];
      if (first === undefined) return;
      const { input } = first;
      note('late redelivery');
      const d = sim.feed(input, a.random, `redeliver ${input.type === 'ReplyReceived' || input.type === 'EventReceived' ? input.message.eventId : ''}`);
      // Property 4 for a late duplicate: a message the core took once it never takes again.
      // One it ignored may count now (an event that came before its wait step began); the
      // shell's inbox, keyed by eventId, is what drops those.
      if (first.ignored === null) sim.check(!isRejection(d) && d.ignored !== null, () => `a redelivered message changed something: ${isRejection(d) ? d.rejected.code : describe(d)}`);
      else if (!isRejection(d) && d.ignored === null) note(`redelivery taken after being ignored as ${first.ignored}: ${input.type} ${describe(d)}`);
      return;
    }
    case 'timer': {
      if (a.stale) {
        const stale = [...sim.spent.entries()].filter(([id]) => !sim.timers.has(id));
        const row = stale[a.pick % Math.max(1, stale.length)];
        if (row === undefined) return;
        const d = sim.feed({ type: 'TimerFired', timer: row[1].ref }, a.random, `stale timer ${row[0]}`);
        note('stale timer fired');
        sim.check(!isRejection(d) && d.ignored !== null, () => `a cancelled or fired timer ${row[0]} fired again and changed something`);
        return;
      }
      const due = [...sim.timers.values()].sort((x, y) => x.dueAt - y.dueAt);
      const row = due[a.pick % Math.max(1, due.length)];
      if (row !== undefined) sim.fire(row, a.random, a.dup);
      return;
    }
    case 'event':
      sim.event(a.matching, a.wrongType, a.random, a.dup);
      return;
    case 'cancel': {
      const d = sim.feed({ type: 'CancelRequested', reason: 'property test' }, a.random, 'cancel');
      note(`cancel while ${s.status}${s.pastPivot ? ' past the pivot' : ''}: ${isRejection(d) ? d.rejected.code : 'accepted'}`);
      const pivot = s.steps[sim.c.pivot]?.status;
      const compensates = !isRejection(d) && d.events.some((e) => e.type === 'CompensationStarted');
      const code = isRejection(d) ? d.rejected.code : null;
      if (s.status !== 'running') sim.check(code === 'SAGA_ERR_INVALID_STATE', `cancel of a ${s.status} instance not rejected`);
      // Property 6: past the pivot, cancel is refused.
      else if (s.pastPivot) sim.check(code === 'SAGA_ERR_PAST_PIVOT', 'cancel past the pivot not rejected with SAGA_ERR_PAST_PIVOT');
      // The pivot is out: refusing (its outcome decides) and compensating are both allowed.
      else if (pivot === 'running' || pivot === 'retrying') sim.check(code === 'SAGA_ERR_PAST_PIVOT' || compensates, 'cancel while the pivot is out neither refused nor compensating');
      else sim.check(compensates, 'cancel of a running instance before the pivot did not start compensating');
      return;
    }
    case 'retry': {
      const d = sim.feed({ type: 'RetryRequested' }, a.random, 'retry');
      sim.check(isRejection(d) === (s.status !== 'failed'), () => `retry of a ${s.status} instance ${isRejection(d) ? 'rejected' : 'accepted'}`);
      if (isRejection(d)) sim.check(d.rejected.code === 'SAGA_ERR_INVALID_STATE', `retry rejected with ${d.rejected.code}`);
      return;
    }
    case 'clock':
      sim.now += a.delta;
      return;
    case 'progress':
      progress(sim);
      return;
  }
}

const DRAIN_LIMIT = 400;

/**
 * One step towards the end: answers the newest unanswered command with success, resumes a
 * failed instance, sends the awaited event, or fires the earliest timer. False when there is
 * nothing left to do.
 */
function progress(sim: Sim): boolean {
  const open = sim.sent.filter((x) => !x.replied);
  const newest = open[open.length - 1];
  if (newest !== undefined) {
    sim.reply(newest, pickType(sim, newest, 'success'), successPayload(true), 0.5, false);
    return true;
  }
  const s = sim.state;
  if (s.status === 'failed') {
    sim.feed({ type: 'RetryRequested' }, 0.5, 'operator retry');
    return true;
  }
  const w = sim.c.wait;
  if (w !== null && s.status === 'running' && s.steps[w.step]?.status === 'running') {
    sim.event(true, false, 0.5, false);
    return true;
  }
  const next = [...sim.timers.values()].sort((x, y) => x.dueAt - y.dueAt)[0];
  if (next === undefined) return false;
  sim.fire(next, 0.5, false);
  return true;
}

/**
 * Drives the instance until it is completed or compensated with nothing left pending; not
 * getting there (stuck, or looping) is a liveness bug.
 */
function drain(sim: Sim): void {
  for (let i = 0; i < DRAIN_LIMIT; i++) {
    if (progress(sim)) continue;
    const s = sim.state;
    sim.check(s.status === 'completed' || s.status === 'compensated', `stuck ${s.status}: no command unanswered, no timer pending, nothing to wait for`);
    sim.finalChecks();
    return;
  }
  sim.fail(`the drain did not finish in ${DRAIN_LIMIT} steps (${sim.state.status})`);
}

function run(c: SagaCase, flag: boolean, startRandom: number, actions: readonly Action[], opts?: SimOptions): Sim {
  const sim = new Sim(c, flag, startRandom, opts);
  for (const a of actions) act(sim, a);
  note(`random prefix ended ${sim.state.status}`);
  if (sim.happened.has(c.pivot)) note('pivot done');
  drain(sim);
  note(`drain ended ${sim.state.status}`);
  return sim;
}

// ---------------------------------------------------------------------------------------------
// The tests

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const numRuns = Number(process.env.FC_RUNS ?? 1000);

/** The two assertions `holds` needs from a tap test. */
interface Reporter { pass(message: string): unknown; fail(message: string, extra: object): unknown }

/** The seed fast-check used in the last `holds` (its own pick without FC_SEED): told with a coverage miss, to run it again. */
let lastSeed: number | undefined;

/** Runs a property and reports it as one tap assertion, with fast-check's counterexample. */
function holds<Ts extends [unknown, ...unknown[]]>(tt: Reporter, name: string, prop: fc.IProperty<Ts>, runs = numRuns, todo?: string): boolean {
  const details = fc.check(prop, { numRuns: runs, ...(seed === undefined ? {} : { seed }) });
  lastSeed = details.seed;
  if (!details.failed) {
    tt.pass(`${name} (${details.numRuns} runs)`);
    return true;
  }
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  tt.fail(name, { counterexample: JSON.stringify(details.counterexample), seed: details.seed, path: details.counterexamplePath, error, ...(todo === undefined ? {} : { todo }) });
  return false;
}

const coverage = [
  'random prefix ended failed', 'drain ended completed', 'drain ended compensated', 'pivot done', 'CompensationResumed',
  'LateSuccessRecorded (inserted)', 'StepGivenUp', 'duplicate ReplyReceived', 'duplicate TimerFired', 'duplicate EventReceived',
  'stale timer fired', 'late redelivery',
];

const scenario = fc.tuple(fc.boolean(), random, fc.oneof(actions(profiles.happy), actions(profiles.mixed), actions(profiles.hostile)));

for (const c of [order, trip]) {
  t.test(`${c.def.name}: any interleaving ends as the saga guarantee allows`, async (tt) => {
    const prop = fc.property(scenario, ([flag, r, actions]: [boolean, number, Action[]]) => {
      run(c, flag, r, actions);
    });
    let ok = holds(tt, 'properties 1-7 under random replies, duplicates, timers, cancels and retries', prop);
    const seeds = [lastSeed];
    // A generator that stops reaching these would make the properties pass vacuously. The rarest
    // (a compensation that exhausts its retries, and so a failed instance and its retry: 7 to 16
    // in 1,000 runs) was missed by a whole sample of 1,000 twice in about 50 runs of this file:
    // a miss takes a second sample before it counts, and names both seeds (FC_SEED=...).
    const missed = () => coverage.some((what) => (seen.get(what) ?? 0) === 0);
    if (ok && numRuns >= 500 && missed()) {
      ok = holds(tt, 'properties 1-7 again, a second sample for the coverage', prop);
      seeds.push(lastSeed);
    }
    for (const [what, n] of [...seen.entries()].sort()) tt.comment(`${String(n).padStart(6)} ${what}`);
    for (const what of ok && numRuns >= 500 ? coverage : []) {
      tt.ok((seen.get(what) ?? 0) > 0, `the generator reached: ${what}`, { seeds });
    }
    seen.clear();
  });
}

t.test('retry delays stay within [0, cap] for any Env.random', async (tt) => {
  const policies = [order, trip].flatMap((c) => leafSteps(c.def).flatMap((l) => [
    ...(l.kind === 'command' ? [l.retry] : []), ...(l.compensate === null ? [] : [l.compensate.retry]),
  ]));
  holds(tt, 'backoffDelay', fc.property(fc.constantFrom(...policies), fc.integer({ min: 1, max: 40 }), random, (policy, attempt, r) => {
    const d = backoffDelay(policy, attempt, r);
    const c = cap(policy, attempt);
    return Number.isInteger(d) && d >= 0 && d <= c && (policy.jitter === 'full' || d === Math.floor(c));
  }), 2000);
  // Timeouts only: every attempt of trip (jitter: full) fails and retries with fast-check's randoms.
  holds(tt, 'trip timing out with random jitter', fc.property(fc.array(random, { minLength: 1, maxLength: 30 }), (randoms) => {
    const sim = new Sim(trip, true, 0.5);
    for (const r of randoms) {
      const next = [...sim.timers.values()].sort((x, y) => x.dueAt - y.dueAt)[0];
      if (next !== undefined) sim.fire(next, r, false);
    }
    drain(sim);
  }), 300);
});

/** Timers and deadlines: found as core bugs by these properties, fixed, and kept as checks. */
t.test('no leftover timers, no Saga-Deadline in the past', async (tt) => {
  for (const c of [order, trip]) {
    holds(tt, `${c.def.name}: no timer is left pending once the instance is completed or compensated`,
      fc.property(scenario, ([flag, r, actions]) => {
        run(c, flag, r, actions, { ...asIs, noLeftoverTimers: true });
      }), numRuns);
    holds(tt, `${c.def.name}: no command is sent with a Saga-Deadline already past`,
      fc.property(scenario, ([flag, r, actions]) => {
        run(c, flag, r, actions, { ...asIs, deadlineAhead: true });
      }), numRuns);
  }
  seen.clear();
});
