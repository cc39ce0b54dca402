/** The simulator behind the core's property tests: a participant, a clock and the checks. */
import { isDeepStrictEqual } from 'node:util';
import {
  decide, elementLeaf, evolve, findLeaf, isRejection, leafSteps, start, timerId,
  type Decision, type Env, type IncomingMessage, type InstanceState, type LeafStep,
  type OutgoingCommand, type Rejection, type RetryPolicy, type SagaEvent, type SagaInput, type TimerRef,
} from '../../engine/core/index.js';
import { expandedLeaves, guarded } from './sim-elements.js';
import { cap, compensable, INSTANCE, type SagaCase } from './sim-sagas.js';

// ---------------------------------------------------------------------------------------------
// The simulator

export interface Sent {
  readonly cmd: OutgoingCommand;
  readonly step: string;
  readonly undo: boolean;
  replied: boolean;
}

export interface TimerRow { readonly ref: TimerRef; readonly dueAt: number }

/** Property 2's bookkeeping: the compensation order the guarantee asks for. */
export interface Plan {
  /** Steps in the order their first undo must be dispatched; late successes are spliced in. */
  readonly expected: string[];
  /** How many of `expected` have had their first undo dispatched. */
  k: number;
  readonly first: Set<string>;
  /** The step whose undo was dispatched and is not yet compensated. */
  inFlight: string | null;
}

export class Violation extends Error {}

/** How often the interesting situations came up, so a weakened generator shows. */
export const seen = new Map<string, number>();
export const note = (what: string): void => void seen.set(what, (seen.get(what) ?? 0) + 1);

/** Extra checks, each run as its own property at the end. */
export interface SimOptions {
  /** No timer is left pending once the instance is completed or compensated. */
  readonly noLeftoverTimers: boolean;
  /** Every command's Saga-Deadline lies ahead when it is sent. */
  readonly deadlineAhead: boolean;
}

export const asIs: SimOptions = { noLeftoverTimers: false, deadlineAhead: false };

export class Sim {
  state!: InstanceState;
  now = 0;
  readonly sent: Sent[] = [];
  readonly timers = new Map<string, TimerRow>();
  /** Timers that fired or were cancelled: firing them again must change nothing. */
  readonly spent = new Map<string, TimerRow>();
  /** Replies and events delivered, with why the core ignored them the first time (null: taken). */
  readonly delivered: { readonly input: SagaInput; readonly ignored: string | null }[] = [];
  readonly happened = new Set<string>();
  readonly undone = new Set<string>();
  /** Steps a participant refused (a failure reply to the attempt in flight): nothing was done. */
  readonly refused = new Set<string>();
  /** Steps that got a failure reply to any of their do-commands, awaited or not. */
  readonly refusedEver = new Set<string>();
  readonly journal: SagaEvent[] = [];
  private replay: InstanceState | undefined;
  private ids = 0;
  private replies = 0;
  private readonly completion: string[] = [];
  private plan: Plan | null = null;
  private readonly log: string[] = [];
  private readonly templates: LeafStep[];

  constructor(readonly c: SagaCase, flag: boolean, random: number, readonly opts: SimOptions = asIs) {
    this.templates = leafSteps(c.def);
    const d = start(c.def, { id: INSTANCE, input: c.input(flag), key: 'k1', correlationId: 'c1', event: null, causationId: 'req1' }, this.env(random));
    this.log.push(`start ${JSON.stringify(c.input(flag))} -> ${describe(d)}`);
    this.absorb(d);
  }

  /** The leaf steps so far, forEach elements each a step of its own (sim-elements.ts). */
  private get leaves(): LeafStep[] {
    return expandedLeaves(this.c.def, this.templates, this.replay);
  }

  leaf(name: string): LeafStep {
    const l = findLeaf(this.c.def, name) ?? elementLeaf(this.c.def, name);
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
    for (const e of d.events) note(e.type === 'LateSuccessRecorded' ? `LateSuccessRecorded${e.queue === null ? '' : ' (inserted)'}` : e.type);
    this.check(d.ignored === null ? d.events.length > 0 : d.events.length === 0 && d.effects.length === 0,
      () => `ignored=${d.ignored} must mean no events and no effects (${d.events.length} events, ${d.effects.length} effects)`);
    if (d.ignored !== null) this.check(isDeepStrictEqual(d.state, before), 'an ignored input changed the state');
    this.absorb(d);
    return d;
  }

  /** Property 4: the same input again, right away, is ignored with no events and no effects. */
  again(input: SagaInput, random: number, what: string): void {
    note(`duplicate ${input.type}`);
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
        this.check(e.dueAt >= this.now, `timer ${e.timerId} scheduled in the past (${e.dueAt} < ${this.now})`);
        this.timers.set(e.timerId, { ref: e.timer, dueAt: e.dueAt });
        this.spent.delete(e.timerId);
      } else if (e.type === 'CancelTimer') this.retire(e.timerId);
    }
    for (const e of d.events) {
      this.check(e.at === this.now, `${e.type} stamped ${e.at}, not now (${this.now})`);
      this.onEvent(e);
    }
    // Integration events mirror the journal's lifecycle events one for one.
    const lifecycle = d.effects.flatMap((e) => (e.type === 'PublishLifecycle' ? [`${e.eventType}:${e.payload.state}`] : []));
    const want = d.events.flatMap((e) => (e.type === 'SagaStarted' || e.type === 'SagaCompleted' || e.type === 'SagaCompensated' || e.type === 'SagaFailed' ? [e.type] : []));
    this.check(isDeepStrictEqual(lifecycle.map((x) => x.split(':')[0]), want), () => `lifecycle events ${JSON.stringify(lifecycle)} do not match the journal's ${JSON.stringify(want)}`);
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
    // Saga-Deadline: sagad never sends a command it has already stopped waiting for (an overdue
    // saga deadline whose timer has not fired yet aside: the timer service fires it first).
    this.check(!this.opts.deadlineAhead || cmd.deadlineAt > this.now || this.timers.has('deadline'), () => `${ev.step}${undo ? ' undo' : ''} attempt ${ev.attempt} sent at ${this.now} with Saga-Deadline ${cmd.deadlineAt}, already past`);
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
      case 'StepDispatched': {
        // Property 3: nothing takes effect after compensation began.
        this.check(this.plan === null, `do command ${e.commandId} for ${e.step} dispatched after compensation began`);
        const l = this.leaf(e.step);
        const prev = before?.steps[e.step]?.attempt ?? 0;
        this.check(e.attempt === prev + 1 && (l.kind !== 'command' || l.retry.maxAttempts === null || e.attempt <= l.retry.maxAttempts), `${e.step} dispatched as attempt ${e.attempt} after ${prev}`);
        return;
      }
      case 'CompensationStarted':
        if (before === undefined) return this.fail('CompensationStarted before SagaStarted');
        this.check(!before.pastPivot, 'compensation started after the pivot succeeded');
        this.check(this.plan === null, 'compensation started twice');
        this.startPlan(e.queue, before);
        return;
      case 'CompensationDispatched': {
        const max = this.leaf(e.step).compensate?.retry.maxAttempts;
        const prev = before?.steps[e.step]?.compensation?.attempt ?? 0;
        this.check(e.attempt === prev + 1 && (max === null || max === undefined || e.attempt <= max), `undo of ${e.step} dispatched as attempt ${e.attempt} after ${prev}`);
        this.onUndoDispatched(e.step);
        return;
      }
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
    this.checkTimers(s);
    if (s.status === 'completed' || s.status === 'compensated') {
      for (const row of this.timers.values()) {
        note(`timer left pending once ${s.status}: ${row.ref.kind}`);
        this.check(!this.opts.noLeftoverTimers, `timer ${timerId(row.ref)} left pending once ${s.status}`);
      }
    }
  }

  /**
   * Liveness without the participants: whatever is awaited has a timer pending, so an
   * instance never waits for a reply that may never come.
   */
  private checkTimers(s: InstanceState): void {
    const pending = (ref: TimerRef, why: string): void => this.check(this.timers.has(timerId(ref)), `${why}, but timer ${timerId(ref)} is not pending (pending: ${[...this.timers.keys()].join(', ') || 'none'})`);
    if (s.status === 'running') {
      for (const l of this.leaves) {
        const st = s.steps[l.name];
        if (st?.status === 'running' && l.kind === 'command') pending({ kind: 'attempt_timeout', step: l.name, attempt: st.attempt }, `${l.name} awaits attempt ${st.attempt}`);
        if (st?.status === 'running' && l.kind === 'wait' && l.timeout !== null) pending({ kind: 'wait_timeout', step: l.name }, `${l.name} awaits its event`);
        if (st?.status === 'retrying') pending({ kind: 'retry', step: l.name, attempt: st.attempt }, `${l.name} awaits its retry`);
      }
    }
    if (s.status === 'compensating') {
      const head = s.compensation.queue[0];
      const comp = head === undefined ? null : s.steps[head]?.compensation;
      this.check(head !== undefined && (comp?.status === 'running' || comp?.status === 'retrying'), () => `compensating, but the head ${head ?? '(none)'} is ${comp?.status ?? 'not dispatched'}`);
      if (comp.status === 'running') pending({ kind: 'comp_timeout', step: head, attempt: comp.attempt }, `the undo of ${head} awaits attempt ${comp.attempt}`);
      else pending({ kind: 'comp_retry', step: head, attempt: comp.attempt }, `the undo of ${head} awaits its retry`);
    }
  }

  private checkCompleted(s: InstanceState): void {
    this.check(this.plan === null, 'completed after compensation began');
    for (const l of this.leaves) {
      const st = s.steps[l.name];
      this.check(st?.status === 'succeeded' || (st?.status === 'skipped' && guarded(this.c.def, l)), () => `completed, but ${l.name} is ${st?.status ?? 'absent'}`);
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
      // A participant that refused a step and then reported it done contradicts its own
      // Idempotency-Key; only compensations can absorb that, so it is left out here.
      if (!compensable(l)) {
        this.check(!this.happened.has(l.name) || this.refusedEver.has(l.name), `compensated, but the participant of ${l.name} (${l.afterPivot ? 'the pivot or after it' : 'no compensation'}) reported its work done`);
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
    else if (!s.undo && spec.failure.includes(eventType)) {
      this.refusedEver.add(s.step);
      if (this.state.status === 'running' && !this.state.pastPivot && st?.awaiting === s.cmd.eventId) this.refused.add(s.step);
    }
    s.replied = true;
    const input: SagaInput = { type: 'ReplyReceived', message: this.message(s, eventType, payload) };
    const what = `reply ${eventType} to ${s.step}${s.undo ? ' undo' : ''} ${s.cmd.eventId}`;
    this.remember(input, this.feed(input, random, what));
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
    this.remember(input, d);
    if (dup) this.again(input, random, 'event');
  }

  private remember(input: SagaInput, d: Decision | Rejection): void {
    this.delivered.push({ input, ignored: isRejection(d) ? d.rejected.code : d.ignored });
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

/** One line saying what a decision did, for counterexamples. */
export function describe(d: Decision): string {
  if (d.ignored !== null) return `ignored ${d.ignored}`;
  return d.events.map((e) => ('step' in e ? `${e.type} ${e.step}` : e.type)).join(', ');
}
