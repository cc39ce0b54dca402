import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import {
  backoffDelay, decide, evolve, findLeaf, isRejection, leafSteps, start, timerId,
  type CompiledSaga, type Decision, type Env, type IncomingMessage, type InstanceState, type LeafStep,
  type OutgoingCommand, type Rejection, type RetryPolicy, type SagaEvent, type SagaInput, type TimerRef,
} from '../../engine/core/index.js';
import { loadFixture } from './harness.js';

/**
 * Property-based tests of the pure core. A small simulator plays the participants, the timer
 * service and the operator around one instance: fast-check picks replies to any command ever
 * sent (late ones included), duplicates, timers (stale ones included), cancels, retries, wait
 * events and clock moves; then a drain answers everything with success. The simulator keeps
 * its own model of what the participants did (a step's work happened when a success reply to
 * its do-command was delivered; it was undone when a success reply to an undo was delivered)
 * and checks the core against DESIGN section 1 after every input. `FC_SEED` replays a run.
 */

// ---------------------------------------------------------------------------------------------
// The sagas under test

interface SagaCase {
  readonly def: CompiledSaga;
  readonly pivot: string;
  input(flag: boolean): unknown;
  /** The wait step, when the saga has one: its subject, type and a (non-)matching payload. */
  readonly wait: { readonly step: string; readonly subject: string; readonly type: string; payload(matching: boolean): unknown } | null;
}

function saga(file: string, name: string): CompiledSaga {
  const def = loadFixture(file)[name];
  if (def === undefined) throw new Error(`no saga ${name} in ${file}`);
  return def;
}

const order: SagaCase = {
  def: saga('order.yaml', 'order'),
  pivot: 'ship',
  input: () => ({ orderId: 'o1', qty: 2, amount: '12.5' }),
  wait: null,
};

const trip: SagaCase = {
  def: saga('trip.yaml', 'trip'),
  pivot: 'confirm',
  input: (breakfast) => ({ tripId: 't1', breakfast }),
  wait: { step: 'await-payment', subject: 'payments.events', type: 'PaymentConfirmed', payload: (m) => ({ tripId: m ? 't1' : 't2' }) },
};

const INSTANCE = 'i1';
const compensable = (l: LeafStep): boolean => l.compensate !== null && !l.afterPivot;

/** The largest delay a policy may give after `attempt` attempts, before jitter. */
function cap(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxInterval, policy.initialInterval * Math.pow(policy.backoffRate, Math.max(0, attempt - 1)));
}

// ---------------------------------------------------------------------------------------------
// The simulator

interface Sent {
  readonly cmd: OutgoingCommand;
  readonly step: string;
  readonly undo: boolean;
  replied: boolean;
}

interface TimerRow { readonly ref: TimerRef; readonly dueAt: number }

/** Property 2's bookkeeping: the compensation order the guarantee asks for. */
interface Plan {
  /** Steps in the order their first undo must be dispatched; late successes are spliced in. */
  readonly expected: string[];
  /** How many of `expected` have had their first undo dispatched. */
  k: number;
  readonly first: Set<string>;
  /** The step whose undo was dispatched and is not yet compensated. */
  inFlight: string | null;
}

class Violation extends Error {}

interface SimOptions {
  /** Also require that a pivot whose work happened is never followed by a compensation. */
  readonly pivotModel: boolean;
}

class Sim {
  state!: InstanceState;
  now = 0;
  readonly sent: Sent[] = [];
  readonly timers = new Map<string, TimerRow>();
  /** Timers that fired or were cancelled: firing them again must change nothing. */
  readonly spent = new Map<string, TimerRow>();
  readonly delivered: SagaInput[] = [];
  readonly happened = new Set<string>();
  readonly undone = new Set<string>();
  /** Steps a participant refused (a failure reply to the attempt in flight): nothing was done. */
  readonly refused = new Set<string>();
  readonly journal: SagaEvent[] = [];
  private replay: InstanceState | undefined;
  private ids = 0;
  private replies = 0;
  private readonly completion: string[] = [];
  private plan: Plan | null = null;
  private readonly log: string[] = [];
  private readonly leaves: LeafStep[];

  constructor(readonly c: SagaCase, flag: boolean, random: number, readonly opts: SimOptions = { pivotModel: false }) {
    this.leaves = leafSteps(c.def);
    const d = start(c.def, { id: INSTANCE, input: c.input(flag), key: 'k1', correlationId: 'c1', event: null, causationId: 'req1' }, this.env(random));
    this.log.push(`start ${JSON.stringify(c.input(flag))} -> ${describe(d)}`);
    this.absorb(d);
  }

  leaf(name: string): LeafStep {
    const l = findLeaf(this.c.def, name);
    if (l === undefined) this.fail(`no step ${name}`);
    return l;
  }

  fail(message: string): never {
    throw new Violation(`${message}\n  trace (latest last):\n    ${this.log.slice(-60).join('\n    ')}`);
  }

  check(ok: boolean, message: string | (() => string)): asserts ok {
    if (!ok) this.fail(typeof message === 'string' ? message : message());
  }

  private env(random: number): Env {
    return { now: this.now, newId: () => `m${++this.ids}`, random: () => random };
  }

  sentDo(step: string): boolean {
    return this.sent.some((s) => s.step === step && !s.undo);
  }

  /** Feeds one input to `decide`, checks the decision and carries out its effects. */
  feed(input: SagaInput, random: number, what: string): Decision | Rejection {
    if (input.type === 'TimerFired') this.retire(timerId(input.timer));
    const before = this.state;
    const d = decide(this.c.def, before, input, this.env(random));
    if (isRejection(d)) {
      this.log.push(`@${this.now} ${what} -> rejected ${d.rejected.code}`);
      return d;
    }
    this.log.push(`@${this.now} ${what} -> ${describe(d)}`);
    this.check(d.ignored === null ? d.events.length > 0 : d.events.length === 0 && d.effects.length === 0,
      () => `ignored=${d.ignored} must mean no events and no effects (${d.events.length} events, ${d.effects.length} effects)`);
    if (d.ignored !== null) this.check(isDeepStrictEqual(d.state, before), 'an ignored input changed the state');
    this.absorb(d);
    return d;
  }

  /** Property 4: the same input again, right away, is ignored with no events and no effects. */
  again(input: SagaInput, random: number, what: string): void {
    const d = this.feed(input, random, `${what} (again)`);
    this.check(!isRejection(d) && d.ignored !== null && d.events.length === 0 && d.effects.length === 0,
      () => `delivering ${what} a second time was not ignored: ${isRejection(d) ? d.rejected.code : describe(d)}`);
  }

  private retire(id: string): void {
    const row = this.timers.get(id);
    if (row === undefined) return;
    this.timers.delete(id);
    this.spent.set(id, row);
  }

  private absorb(d: Decision): void {
    for (const e of d.effects) {
      if (e.type === 'SendCommand') this.recordCommand(e.command, d.events);
      else if (e.type === 'ScheduleTimer') {
        this.check(e.timerId === timerId(e.timer), `timer id ${e.timerId} does not name its timer`);
        this.timers.set(e.timerId, { ref: e.timer, dueAt: e.dueAt });
        this.spent.delete(e.timerId);
      } else if (e.type === 'CancelTimer') this.retire(e.timerId);
    }
    for (const e of d.events) this.onEvent(e);
    this.state = d.state;
    // Property 5, step by step (the whole journal is folded again at the end).
    this.check(isDeepStrictEqual(this.replay, d.state), 'folding the journal through evolve does not give the state decide returned');
    this.invariants();
  }

  /** Property 7 and the outbox rule: every command is journalled and carries stable headers. */
  private recordCommand(cmd: OutgoingCommand, events: readonly SagaEvent[]): void {
    const ev = events.find((e) => (e.type === 'StepDispatched' || e.type === 'CompensationDispatched') && e.commandId === cmd.eventId);
    if (ev === undefined || (ev.type !== 'StepDispatched' && ev.type !== 'CompensationDispatched')) {
      return this.fail(`command ${cmd.eventId} ${cmd.eventType} was sent without a journal event that records it`);
    }
    const undo = ev.type === 'CompensationDispatched';
    const l = this.leaf(ev.step);
    const spec = undo ? l.compensate?.command : l.kind === 'command' ? l.command : undefined;
    const key = `${INSTANCE}/${ev.step}/${undo ? 'undo' : 'do'}`;
    const h = cmd.headers;
    this.check(spec !== undefined && cmd.subject === spec.subject && cmd.eventType === spec.type, `command ${cmd.eventId} has the wrong subject or type`);
    this.check(h['Saga-Step'] === ev.step && h['Saga-Id'] === INSTANCE && h['Saga-Attempt'] === String(ev.attempt),
      () => `command ${cmd.eventId} headers ${JSON.stringify(h)} do not match ${ev.type} ${ev.step}#${ev.attempt}`);
    this.check(h['Idempotency-Key'] === key, () => `command ${cmd.eventId} has Idempotency-Key ${h['Idempotency-Key']}, want ${key}`);
    this.check(this.sent.every((s) => s.cmd.eventId !== cmd.eventId), `command id ${cmd.eventId} reused`);
    this.check(this.sent.every((s) => s.step !== ev.step || s.undo !== undo || s.cmd.headers['Idempotency-Key'] === key), 'Idempotency-Key changed between attempts');
    this.sent.push({ cmd, step: ev.step, undo, replied: false });
  }

  private onEvent(e: SagaEvent): void {
    const before = this.replay;
    this.replay = evolve(this.replay, e);
    this.journal.push(e);
    switch (e.type) {
      case 'StepSucceeded':
      case 'StepFailed':
      case 'StepGivenUp':
        this.completion.push(e.step);
        if (e.type === 'StepSucceeded' && e.pivot) this.check(this.plan === null, 'the pivot succeeded after compensation began');
        return;
      case 'StepDispatched':
        // Property 3: nothing takes effect after compensation began.
        this.check(this.plan === null, `do command ${e.commandId} for ${e.step} dispatched after compensation began`);
        return;
      case 'CompensationStarted':
        if (before === undefined) return this.fail('CompensationStarted before SagaStarted');
        this.check(!before.pastPivot, 'compensation started after the pivot succeeded');
        this.check(this.plan === null, 'compensation started twice');
        this.startPlan(e.queue, before);
        return;
      case 'CompensationDispatched':
        this.onUndoDispatched(e.step);
        return;
      case 'StepCompensated': {
        const p = this.needPlan(e.type);
        this.check(p.inFlight === e.step, () => `${e.step} compensated while ${p.inFlight ?? 'nothing'} was in flight`);
        p.inFlight = null;
        return;
      }
      case 'LateSuccessRecorded':
        this.onLateSuccess(e.step, e.queue);
        return;
      case 'StepAttemptFailed': {
        const l = this.leaf(e.step);
        if (l.kind === 'command') this.checkDelay(l.retry, e.attempt, e.retryAt - e.at, `retry of ${e.step}#${e.attempt}`);
        return;
      }
      case 'CompensationAttemptFailed': {
        const policy = this.leaf(e.step).compensate?.retry;
        if (policy !== undefined) this.checkDelay(policy, e.attempt, e.retryAt - e.at, `retry of the undo of ${e.step}#${e.attempt}`);
        return;
      }
      default:
        return;
    }
  }

  /** The jitter property: every retry delay lies in [0, cap] (exactly the cap without jitter). */
  private checkDelay(policy: RetryPolicy, attempt: number, delay: number, what: string): void {
    const c = cap(policy, attempt);
    this.check(delay >= 0 && delay <= c && Number.isInteger(delay), `${what}: delay ${delay} outside [0, ${c}]`);
    if (policy.jitter === 'none') this.check(delay === Math.floor(c), `${what}: delay ${delay}, want ${c} without jitter`);
  }

  private needPlan(what: string): Plan {
    if (this.plan === null) return this.fail(`${what} before CompensationStarted`);
    return this.plan;
  }

  /**
   * Property 2, at the start: the queue is every compensable step whose work may have happened
   * (do-command sent, and not refused unless a success came anyway), latest completion first,
   * by journal order and by doneSeq alike.
   */
  private startPlan(queue: readonly string[], before: InstanceState): void {
    const owed = new Set(this.leaves.filter((l) => compensable(l) && this.owesUndo(l.name)).map((l) => l.name));
    const expected = this.completion.filter((n) => owed.has(n)).reverse();
    this.check(isDeepStrictEqual([...queue], expected), () => `CompensationStarted queue ${JSON.stringify(queue)}, but the steps whose work may have happened, latest completion first, are ${JSON.stringify(expected)}`);
    const seqs = queue.map((n) => before.steps[n]?.doneSeq ?? null);
    this.check(seqs.every((s, i) => s !== null && (i === 0 || s < (seqs[i - 1] ?? 0))), () => `queue ${JSON.stringify(queue)} is not in descending doneSeq order: ${JSON.stringify(seqs)}`);
    this.plan = { expected, k: 0, first: new Set(), inFlight: null };
  }

  owesUndo(step: string): boolean {
    return this.sentDo(step) && (this.happened.has(step) || !this.refused.has(step));
  }

  /** Property 2, as it runs: one undo at a time, each first dispatch the next expected step. */
  private onUndoDispatched(step: string): void {
    const p = this.needPlan('CompensationDispatched');
    if (p.first.has(step)) {
      this.check(p.inFlight === step, () => `undo of ${step} dispatched again while ${p.inFlight ?? 'nothing'} is in flight`);
      return;
    }
    this.check(p.inFlight === null, () => `undo of ${step} dispatched while the undo of ${p.inFlight} is still in flight`);
    this.check(p.expected[p.k] === step, () => `undo #${p.k + 1} is ${step}, but the order owed is ${JSON.stringify(p.expected)}`);
    p.first.add(step);
    p.k++;
    p.inFlight = step;
  }

  /** A late success is compensated right after the undo in flight (or next, if none is). */
  private onLateSuccess(step: string, queue: readonly string[] | null): void {
    const p = this.needPlan('LateSuccessRecorded');
    this.check(this.happened.has(step), `late success recorded for ${step}, but no success reply was delivered`);
    if (queue === null) {
      this.check(p.expected.slice(p.k).includes(step), () => `late success of ${step} not inserted, yet ${step} is not waiting in ${JSON.stringify(p.expected.slice(p.k))}`);
      return;
    }
    p.expected.splice(p.k, 0, step);
    const remaining = p.expected.slice(p.inFlight === null ? p.k : p.k - 1);
    this.check(isDeepStrictEqual([...queue], remaining), () => `late success of ${step} gave queue ${JSON.stringify(queue)}, want ${JSON.stringify(remaining)}`);
  }

  /** Property 1 (and 6) after every decision. */
  private invariants(): void {
    const s = this.state;
    if (s.pastPivot) {
      this.check(s.status === 'running' || s.status === 'completed' || (s.status === 'failed' && s.compensation === null), `past the pivot, yet ${s.status}`);
    }
    if (s.status === 'completed') this.checkCompleted(s);
    if (s.status === 'compensated') this.checkCompensated(s);
    if (s.status === 'failed') this.checkFailed(s);
  }

  private checkCompleted(s: InstanceState): void {
    this.check(this.plan === null, 'completed after compensation began');
    for (const l of this.leaves) {
      const st = s.steps[l.name];
      this.check(st?.status === 'succeeded' || (st?.status === 'skipped' && l.when !== null), () => `completed, but ${l.name} is ${st?.status ?? 'absent'}`);
      this.check(st.compensation === null, `completed, but ${l.name} has a compensation`);
    }
    if (this.c.wait !== null) this.check(s.steps[this.c.wait.step]?.status === 'succeeded', 'completed without the awaited event');
  }

  private checkCompensated(s: InstanceState): void {
    for (const l of this.leaves) {
      const comp = s.steps[l.name]?.compensation ?? null;
      const owed = compensable(l) && this.owesUndo(l.name);
      const did = comp?.status === 'compensated';
      this.check(owed === did, () => owed
        ? `compensated, but ${l.name} (work ${this.happened.has(l.name) ? 'happened' : 'may have happened'}) is ${comp?.status ?? 'not compensated'}`
        : `compensated, and ${l.name} was compensated although ${this.sentDo(l.name) ? 'its participant refused it' : 'its command was never sent'}`);
      if (did) this.check(this.undone.has(l.name), `${l.name} counted compensated without a success reply to its undo`);
      if (this.opts.pivotModel && !compensable(l)) {
        this.check(!this.happened.has(l.name), `compensated, but the participant of ${l.name} (${l.afterPivot ? 'the pivot or after it' : 'no compensation'}) reported its work done`);
      }
    }
    const p = this.needPlan('SagaCompensated');
    this.check(p.k === p.expected.length && p.inFlight === null, () => `compensated after undoing ${p.k} of ${JSON.stringify(p.expected)}`);
  }

  private checkFailed(s: Extract<InstanceState, { status: 'failed' }>): void {
    if (s.compensation === null) {
      this.check(s.pastPivot && this.leaf(s.failure.step).afterPivot, () => `failed without a compensation plan before the pivot (${s.failure.step}: ${s.failure.error})`);
      return;
    }
    const comp = s.steps[s.failure.step]?.compensation;
    const max = this.leaf(s.failure.step).compensate?.retry.maxAttempts;
    this.check(comp?.status === 'compensation_failed' && s.compensation.queue[0] === s.failure.step, () => `failed on ${s.failure.step}, whose compensation is ${comp?.status}`);
    this.check(max !== null && max !== undefined && comp.attempt === max, () => `failed on ${s.failure.step} after ${comp.attempt} undo attempts of ${max ?? 'unlimited'}`);
  }

  // -- the outside world ---------------------------------------------------------------------

  message(s: Sent, eventType: string, payload: unknown): IncomingMessage {
    return { eventId: `r${++this.replies}`, eventType, correlationId: 'c1', causationId: s.cmd.eventId, aggregateId: 'agg', version: 1, payload };
  }

  /** Delivers a reply to a command, updating the model of what the participant did. */
  reply(s: Sent, eventType: string, payload: unknown, random: number, dup: boolean): void {
    const l = this.leaf(s.step);
    const spec = s.undo ? l.compensate?.reply : l.kind === 'command' ? l.reply : undefined;
    if (spec === undefined) return this.fail(`no reply spec for ${s.step}`);
    const st = this.state.steps[s.step];
    if (spec.success.includes(eventType)) (s.undo ? this.undone : this.happened).add(s.step);
    else if (!s.undo && spec.failure.includes(eventType) && this.state.status === 'running' && !this.state.pastPivot && st?.awaiting === s.cmd.eventId) {
      this.refused.add(s.step);
    }
    s.replied = true;
    const input: SagaInput = { type: 'ReplyReceived', message: this.message(s, eventType, payload) };
    const what = `reply ${eventType} to ${s.step}${s.undo ? ' undo' : ''} ${s.cmd.eventId}`;
    this.feed(input, random, what);
    this.delivered.push(input);
    if (dup) this.again(input, random, what);
  }

  fire(row: TimerRow, random: number, dup: boolean): void {
    this.now = Math.max(this.now, row.dueAt);
    const input: SagaInput = { type: 'TimerFired', timer: row.ref };
    this.feed(input, random, `timer ${timerId(row.ref)}`);
    if (dup) this.again(input, random, `timer ${timerId(row.ref)}`);
  }

  event(matching: boolean, wrongType: boolean, random: number, dup: boolean): void {
    const w = this.c.wait ?? { subject: 'payments.events', type: 'PaymentConfirmed', payload: () => ({}) };
    const running = this.c.wait !== null && this.state.status === 'running' && this.state.steps[this.c.wait.step]?.status === 'running';
    const input: SagaInput = {
      type: 'EventReceived', subject: w.subject,
      message: { eventId: `e${++this.replies}`, eventType: wrongType ? 'PaymentFailed' : w.type, correlationId: 'c1', causationId: 'x', aggregateId: 't1', version: 1, payload: w.payload(matching) },
    };
    const d = this.feed(input, random, `event ${wrongType ? 'PaymentFailed' : w.type} ${matching ? 'matching' : 'not matching'}`);
    const effective = running && matching && !wrongType;
    this.check(!isRejection(d) && (d.ignored === null) === effective, () => `a ${effective ? '' : 'non-'}matching event was ${isRejection(d) || d.ignored !== null ? 'ignored' : 'taken'}`);
    this.delivered.push(input);
    if (dup) this.again(input, random, 'event');
  }

  /** The model of property 1 once the drain is over, and property 5 from scratch. */
  finalChecks(): void {
    const s = this.state;
    this.check(s.status === 'completed' || s.status === 'compensated', `the drain ended ${s.status}`);
    const folded = this.journal.reduce<InstanceState | undefined>((acc, e) => evolve(acc, e), undefined);
    this.check(isDeepStrictEqual(folded, s), 'folding the whole journal from undefined does not give the final state');
    this.check(this.timers.size === 0, 'timers left pending');
  }
}

function describe(d: Decision): string {
  if (d.ignored !== null) return `ignored ${d.ignored}`;
  return d.events.map((e) => ('step' in e ? `${e.type} ${e.step}` : e.type)).join(', ');
}

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
  | { readonly do: 'clock'; readonly delta: number };

const random = fc.oneof(
  { arbitrary: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), weight: 4 },
  { arbitrary: fc.constantFrom(0, 1 - Number.EPSILON), weight: 1 },
);
/** Mostly the newest command, often an older one: late replies. */
const back = fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.nat(12), weight: 2 });

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ do: fc.constant('reply' as const), back, kind: fc.constantFrom<ReplyKind>('success', 'success', 'failure', 'retryable', 'odd'), field: fc.boolean(), dup: fc.boolean(), random }) },
  { weight: 2, arbitrary: fc.record({ do: fc.constant('redeliver' as const), back, random }) },
  { weight: 5, arbitrary: fc.record({ do: fc.constant('timer' as const), pick: fc.nat(8), stale: fc.boolean({ trueWeight: 1 }).chain((b) => (b ? fc.boolean() : fc.constant(false))), dup: fc.boolean(), random }) },
  { weight: 2, arbitrary: fc.record({ do: fc.constant('event' as const), matching: fc.boolean(), wrongType: fc.boolean(), dup: fc.boolean(), random }) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('cancel' as const), random }) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('retry' as const), random }) },
  { weight: 2, arbitrary: fc.record({ do: fc.constant('clock' as const), delta: fc.oneof(fc.nat(6000), fc.nat(3 * 3600_000)) }) },
);

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
      const input = sim.delivered[sim.delivered.length - 1 - (a.back % Math.max(1, sim.delivered.length))];
      if (input === undefined) return;
      // Property 4 for a late duplicate: the core alone must still change nothing.
      const d = sim.feed(input, a.random, `redeliver ${input.type === 'ReplyReceived' || input.type === 'EventReceived' ? input.message.eventId : ''}`);
      sim.check(!isRejection(d) && d.ignored !== null, 'a redelivered message changed something');
      return;
    }
    case 'timer': {
      if (a.stale) {
        const stale = [...sim.spent.entries()].filter(([id]) => !sim.timers.has(id));
        const row = stale[a.pick % Math.max(1, stale.length)];
        if (row === undefined) return;
        const d = sim.feed({ type: 'TimerFired', timer: row[1].ref }, a.random, `stale timer ${row[0]}`);
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
      if (s.status === 'running' && s.pastPivot) sim.check(isRejection(d) && d.rejected.code === 'SAGA_ERR_PAST_PIVOT', 'cancel past the pivot not rejected with SAGA_ERR_PAST_PIVOT');
      else if (s.status !== 'running') sim.check(isRejection(d) && d.rejected.code === 'SAGA_ERR_INVALID_STATE', `cancel of a ${s.status} instance not rejected`);
      else sim.check(!isRejection(d) && d.events.some((e) => e.type === 'CompensationStarted'), 'cancel of a running instance before the pivot did not start compensating');
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
  }
}

const DRAIN_LIMIT = 400;

/**
 * Answers the newest unanswered command with success, resumes a failed instance, sends the
 * awaited event, or fires the earliest timer, until the instance is completed or compensated
 * with nothing left pending. Failing to get there is a liveness bug.
 */
function drain(sim: Sim): void {
  for (let i = 0; i < DRAIN_LIMIT; i++) {
    const open = sim.sent.filter((x) => !x.replied);
    const newest = open[open.length - 1];
    if (newest !== undefined) {
      sim.reply(newest, pickType(sim, newest, 'success'), successPayload(true), 0.5, false);
      continue;
    }
    const s = sim.state;
    if (s.status === 'failed') {
      sim.feed({ type: 'RetryRequested' }, 0.5, 'drain: operator retry');
      continue;
    }
    const w = sim.c.wait;
    if (w !== null && s.status === 'running' && s.steps[w.step]?.status === 'running') {
      sim.event(true, false, 0.5, false);
      continue;
    }
    const next = [...sim.timers.values()].sort((x, y) => x.dueAt - y.dueAt)[0];
    if (next !== undefined) {
      sim.fire(next, 0.5, false);
      continue;
    }
    sim.check(s.status === 'completed' || s.status === 'compensated', `stuck ${s.status}: no command unanswered, no timer pending, nothing to wait for`);
    sim.finalChecks();
    return;
  }
  sim.fail(`the drain did not finish in ${DRAIN_LIMIT} steps (${sim.state.status})`);
}

function run(c: SagaCase, flag: boolean, startRandom: number, actions: readonly Action[], opts?: SimOptions): Sim {
  const sim = new Sim(c, flag, startRandom, opts);
  for (const a of actions) act(sim, a);
  drain(sim);
  return sim;
}

// ---------------------------------------------------------------------------------------------
// The tests

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const numRuns = Number(process.env.FC_RUNS ?? 600);

function holds<Ts extends [unknown, ...unknown[]]>(tt: Tap, name: string, prop: fc.IProperty<Ts>, runs = numRuns): void {
  const details = fc.check(prop, { numRuns: runs, ...(seed === undefined ? {} : { seed }) });
  if (details.failed) tt.fail(`${name}\n${fc.defaultReportMessage(details) ?? ''}`);
  else tt.pass(`${name} (${details.numRuns} runs)`);
}

type Tap = Parameters<Parameters<typeof t.test>[1] & ((t: never) => unknown)>[0];

const scenario = fc.tuple(fc.boolean(), random, fc.array(action, { maxLength: 40 }));

for (const c of [order, trip]) {
  t.test(`${c.def.name}: any interleaving ends as the saga guarantee allows`, async (tt) => {
    holds(tt, 'properties 1-7 under random replies, duplicates, timers, cancels and retries',
      fc.property(scenario, ([flag, r, actions]) => {
        run(c, flag, r, actions);
      }));
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
