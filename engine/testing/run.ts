/**
 * Runs one saga instance through the pure core against scripted participants on a simulated
 * clock: no NATS, no database, no real time. Every input goes through `decide` exactly as the
 * runtime would feed it, and the run records what happened for the guarantee check.
 */
import {
  decide, isRejection, isTerminal, parseElement, parseGroupStep, scopeOf, start, startKey, timerId,
  type ChildOutcome, type CompiledSaga, type Decision, type Env, type IncomingMessage, type InstanceState, type SagaEvent, type SagaInput, type TimerRef,
} from '../core/index.js';
import { forStep, leafOf } from './leaves.js';
import { defaultDelay, replyType, waitEvent } from './participant.js';
import type { Samples } from './samples.js';
import { replyFor, type Script, type ScriptedReply } from './script.js';
import { describeRun, type CommandRecord } from './effects.js';
import type { TraceEntry } from './trace.js';

/** How a run ended: an instance state, or `rejected` when the start itself was refused. */
export type Outcome = InstanceState['status'] | 'rejected';

/** Everything a run produced: the outcome, the journal, the trace the checker reads, and what to tell the author. */
export interface RunResult {
  readonly outcome: Outcome;
  readonly state: InstanceState | null;
  /** Journal events, oldest first, `at` in simulated ms from the start (0). */
  readonly journal: readonly SagaEvent[];
  readonly trace: readonly TraceEntry[];
  /** One line per command (`do charge-payment#2 timeout`) and per other happening (`skip rent-car`, `cancel`). */
  readonly effects: readonly string[];
  /** Things worth the author's attention that break no guarantee (an expression that failed, a saga that never ends). */
  readonly notes: readonly string[];
}

/** Limits of a run. */
export interface RunOptions {
  /** Inputs fed to the core before the run is called endless; default 5000. */
  readonly maxInputs?: number;
  /** The instance id; default `test-1`. */
  readonly id?: string;
}

type Pending =
  | { readonly kind: 'reply'; readonly at: number; readonly seq: number; readonly cmd: CommandRecord; readonly type: string; readonly payload: unknown }
  | { readonly kind: 'timer'; readonly at: number; readonly seq: number; readonly ref: TimerRef }
  | { readonly kind: 'event'; readonly at: number; readonly seq: number; readonly step: string }
  | { readonly kind: 'cancel'; readonly at: number; readonly seq: number }
  /** A child saga (a `saga` step's) ends; the child is simulated as a participant answering its step. */
  | { readonly kind: 'child'; readonly at: number; readonly seq: number; readonly cmd: CommandRecord; readonly outcome: ChildOutcome };

/** A happening being arranged: its place among equal times is given when it is added. */
type Arranged = { [K in Pending['kind']]: Omit<Extract<Pending, { kind: K }>, 'seq'> }[Pending['kind']];

const CORRELATION = 'corr-1';

/** Pure: runs `saga` with `samples` and `script`; never throws for a saga that loaded. */
export function runSaga(saga: CompiledSaga, samples: Samples, script: Script, options: RunOptions = {}): RunResult {
  return new Simulation(saga, samples, script, options).run();
}

class Simulation {
  private now = 0;
  private seq = 0;
  private ids = 0;
  private state: InstanceState | null = null;
  private readonly pending = new Map<string, Pending>();
  private readonly journal: SagaEvent[] = [];
  private readonly trace: TraceEntry[] = [];
  private readonly commands: CommandRecord[] = [];
  private readonly others: { at: number; order: number; text: string }[] = [];
  private readonly notes: string[] = [];
  /** Steps scripted `late` on their last attempt: answered once they are given up. */
  private readonly lateAnswer = new Map<string, { cmd: CommandRecord; delay: number | null }>();

  constructor(private readonly saga: CompiledSaga, private readonly samples: Samples, private readonly script: Script, private readonly options: RunOptions) {}

  private env(): Env {
    return { now: this.now, newId: () => `m${++this.ids}`, random: () => 0.5 };
  }

  private add(id: string, p: Arranged): void {
    this.pending.set(id, { ...p, seq: ++this.seq });
  }

  run(): RunResult {
    const id = this.options.id ?? 'test-1';
    const input = this.samples.input;
    const on = this.saga.start.on;
    const event = on === null ? null : {
      eventId: 'trigger-1', eventType: on.type, aggregateId: 'trigger', timestamp: new Date(0).toISOString(), version: 1,
      correlationId: CORRELATION, causationId: 'cause-1', payload: input,
    };
    const key = startKey(this.saga, input, event, id, CORRELATION);
    if (!key.ok) {
      this.notes.push(`the start is refused: ${key.error}`);
      return this.result('rejected');
    }
    if (this.script.cancel !== null && 'at' in this.script.cancel) this.add('cancel', { kind: 'cancel', at: this.script.cancel.at });
    this.absorb(start(this.saga, { id, input, key: key.key, correlationId: CORRELATION, event, causationId: 'cause-1' }, this.env()));
    const max = this.options.maxInputs ?? 5000;
    for (let n = 0; this.pending.size > 0; n++) {
      if (n >= max) {
        this.notes.push(`did not end after ${max} inputs: a step that retries until it succeeds never does under this script`);
        break;
      }
      this.step();
    }
    const s = this.state;
    if (s !== null && !isTerminal(s) && this.pending.size === 0) this.notes.push(`still ${s.status} with nothing left to happen: ${waitingFor(s)}`);
    const c = this.script.cancel;
    if (c !== null && 'step' in c && !this.cancelArranged) this.notes.push(`no cancel was requested: ${c.step} never started`);
    return this.result(s?.status ?? 'rejected');
  }

  private result(outcome: Outcome): RunResult {
    // An expression or schema error fails a step before anything is sent: say so plainly.
    for (const e of this.journal) {
      if (!('step' in e)) continue;
      const sent = (undo: boolean): boolean => this.commands.some((c) => c.step === e.step && c.undo === undo);
      const kind = leafOf(this.saga, e.step)?.kind;
      const command = kind === 'command' || kind === 'saga';
      if (e.type === 'StepFailed' && e.outcome === 'not_done' && command && !sent(false)) this.notes.push(`${e.step} could not be sent: ${e.error}`);
      if (e.type === 'CompensationFailed' && !sent(true)) this.notes.push(`the compensation of ${e.step} could not be sent: ${e.error}`);
    }
    return { outcome, state: this.state, journal: this.journal, trace: this.trace, effects: describeRun(this.commands, this.others), notes: this.notes };
  }

  /** Feeds the earliest pending happening (ties in the order they were arranged). */
  private step(): void {
    let next: [string, Pending] | null = null;
    for (const entry of this.pending) if (next === null || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq)) next = entry;
    if (next === null) return;
    const [key, p] = next;
    this.pending.delete(key);
    this.now = Math.max(this.now, p.at);
    const state = this.state;
    if (state === null) return;
    const mark = this.commands.length;
    switch (p.kind) {
      case 'reply': {
        const { cmd } = p;
        const message: IncomingMessage = {
          eventId: `r${++this.ids}`, eventType: p.type, correlationId: CORRELATION, causationId: cmd.commandId,
          aggregateId: 'participant', version: 1, payload: p.payload,
        };
        const reply = this.kindOf(cmd, p.type);
        const d = this.feed({ type: 'ReplyReceived', message }, (taken) => ({
          at: this.now, kind: 'reply', step: cmd.step, undo: cmd.undo, attempt: cmd.attempt, commandId: cmd.commandId, reply, taken,
        }));
        const late = d?.events.some((e) => e.type === 'LateSuccessRecorded') === true;
        const word = reply === 'success' ? 'ok' : reply === 'failure' ? 'fail' : 'retryable';
        cmd.result = `${word}${late ? ' late' : d?.ignored === null ? '' : ' ignored'}`;
        return;
      }
      case 'timer': {
        const d = this.feed({ type: 'TimerFired', timer: p.ref }, (taken) => ({ at: this.now, kind: 'timer', timer: timerId(p.ref), taken }));
        if (d?.ignored !== null) return;
        if (p.ref.kind === 'attempt_timeout' || p.ref.kind === 'comp_timeout') {
          const undo = p.ref.kind === 'comp_timeout';
          const { step, attempt } = p.ref;
          const cmd = this.commands.find((c) => c.step === step && c.undo === undo && c.attempt === attempt && c.result === null);
          if (cmd !== undefined) cmd.result = 'timeout';
        }
        if (p.ref.kind === 'deadline') this.other('deadline passed', mark);
        if (p.ref.kind === 'wait_timeout') this.other(`wait ${p.ref.step} timeout`, mark);
        if (p.ref.kind === 'delay') this.other(`delay ${p.ref.step} ends`, mark);
        if (p.ref.kind === 'child_timeout') {
          this.other(`saga ${p.ref.step} timeout`, mark);
          const step = p.ref.step;
          const cmd = this.commands.find((c) => c.step === step && !c.undo && c.result === null);
          if (cmd !== undefined) cmd.result = 'timeout';
        }
        return;
      }
      case 'event': {
        const l = leafOf(this.saga, p.step);
        if (l?.kind !== 'wait') return;
        const message = waitEvent(l, scopeOf(state), this.samples.success[p.step] ?? {}, `e${++this.ids}`);
        const d = this.feed({ type: 'EventReceived', subject: l.subject, message }, (taken) => ({ at: this.now, kind: 'event', step: p.step, taken }));
        const why = d?.matchFailure === undefined ? d?.ignored ?? 'refused' : `${d.ignored ?? ''}: ${d.matchFailure.error}`;
        this.other(`wait ${p.step} ${d?.ignored === null ? 'event' : `event ignored (${why})`}`, mark);
        return;
      }
      case 'child': {
        const { cmd } = p;
        const output = p.outcome === 'completed' ? { id: cmd.commandId, saga: this.childSaga(cmd.step), steps: childSteps(this.samples.success[cmd.step]) } : null;
        const reply = (cmd.undo ? p.outcome === 'compensated' : p.outcome === 'completed') ? 'success' : 'failure';
        const d = this.feed({ type: 'ChildEnded', step: cmd.step, childId: cmd.commandId, outcome: p.outcome, output, reason: p.outcome === 'completed' ? null : 'scripted by the test' }, (taken) => ({
          at: this.now, kind: 'reply', step: cmd.step, undo: cmd.undo, attempt: cmd.attempt, commandId: cmd.commandId, reply, taken,
        }));
        const late = d?.events.some((e) => e.type === 'LateSuccessRecorded') === true;
        cmd.result = `${p.outcome}${late ? ' late' : d?.ignored === null ? '' : ' ignored'}`;
        return;
      }
      case 'cancel': {
        const d = this.feed({ type: 'CancelRequested', reason: 'scripted by the test' }, (taken) => ({ at: this.now, kind: 'cancel', accepted: taken }));
        this.other(d === null ? `cancel refused (${this.refusal})` : 'cancel', mark);
        return;
      }
    }
  }

  /** The code of the last rejected input. */
  private refusal = '';

  /** Decides one input; its trace entry goes before the journal events it caused. */
  private feed(input: SagaInput, entry: (taken: boolean) => TraceEntry): Decision | null {
    const state = this.state;
    if (state === null) return null;
    const d = decide(this.saga, state, input, this.env());
    if (isRejection(d)) {
      this.refusal = d.rejected.code;
      this.trace.push(entry(false));
      return null;
    }
    this.trace.push(entry(d.ignored === null));
    this.absorb(d);
    return d;
  }

  private other(text: string, order = this.commands.length): void {
    this.others.push({ at: this.now, order, text });
  }

  private kindOf(cmd: CommandRecord, type: string): 'success' | 'failure' | 'retryable' {
    const l = leafOf(this.saga, cmd.step);
    const spec = cmd.undo ? l?.compensate?.reply : l?.kind === 'command' ? l.reply : undefined;
    if (spec?.success.includes(type) === true) return 'success';
    return spec?.failure.includes(type) === true ? 'failure' : 'retryable';
  }

  private absorb(d: Decision): void {
    this.state = d.state;
    for (const e of d.events) {
      this.journal.push(e);
      this.trace.push({ at: this.now, kind: 'journal', event: e });
      this.onEvent(e);
    }
    for (const eff of d.effects) {
      if (eff.type === 'ScheduleTimer') this.add(`timer:${eff.timerId}`, { kind: 'timer', at: eff.dueAt, ref: eff.timer });
      else if (eff.type === 'CancelTimer') this.pending.delete(`timer:${eff.timerId}`);
      else if (eff.type === 'SendCommand') this.onSend(eff.command.eventId, d.events);
    }
  }

  private onEvent(e: SagaEvent): void {
    switch (e.type) {
      case 'StepSkipped': this.other(`skip ${e.step}`); return;
      case 'WaitStarted': {
        const l = leafOf(this.saga, e.step);
        const r = replyFor(this.script.do[e.step], 1);
        if (r.kind === 'ok') this.add(`event:${e.step}`, { kind: 'event', at: this.now + (r.delay ?? defaultDelay(l?.kind === 'wait' ? l.timeout : null)), step: e.step });
        this.cancelOn(e.step);
        return;
      }
      case 'StepDispatched': if (e.attempt === 1) this.cancelOn(e.step); return;
      case 'DelayStarted': this.cancelOn(e.step); return;
      case 'ChildStarted': this.onChild(e.step, e.childId, false); this.cancelOn(e.step); return;
      case 'ChildCompensationRequested': this.onChild(e.step, e.childId, true); return;
      case 'StepFailed':
      case 'StepGivenUp': {
        const late = this.lateAnswer.get(e.step);
        if (late === undefined) return;
        this.lateAnswer.delete(e.step);
        const l = leafOf(this.saga, e.step);
        if (l?.kind === 'saga') {
          this.add(`late:${e.step}`, { kind: 'child', at: this.now + (late.delay ?? 1000), cmd: late.cmd, outcome: 'completed' });
          return;
        }
        const type = l?.kind === 'command' ? l.reply.success[0] : undefined;
        if (type !== undefined) this.add(`late:${e.step}`, { kind: 'reply', at: this.now + (late.delay ?? 1000), cmd: late.cmd, type, payload: forStep(this.samples.success, e.step) ?? {} });
        return;
      }
      default: return;
    }
  }

  private cancelOn(step: string): void {
    const c = this.script.cancel;
    // `cancel=reserve` cancels when the first element of forEach step reserve is sent (`cancel=lines.pick`: a group's step).
    if (c === null || !('step' in c) || (c.step !== step && c.step !== parseElement(step)?.stage && c.step !== groupLeafName(step)) || this.cancelArranged) return;
    this.cancelArranged = true;
    this.add('cancel', { kind: 'cancel', at: this.now });
  }

  /** Whether the scripted cancel-at-a-step has been arranged: the step may never start. */
  private cancelArranged = false;

  private childSaga(step: string): string {
    const l = leafOf(this.saga, step);
    return l?.kind === 'saga' ? l.saga : step;
  }

  /**
   * A `saga` step started its child, or asked it to compensate: recorded as a command of the
   * step, and the child's end arranged as its scripted answer (ok: completed, or compensated
   * for an undo; fail or retryable: compensated, or failed for an undo; timeout: never ends).
   */
  private onChild(step: string, childId: string, undo: boolean): void {
    const prior = this.commands.filter((c) => c.step === step && c.undo === undo).length;
    const cmd: CommandRecord = { step, undo, attempt: prior + 1, commandId: childId, at: this.now, result: null };
    this.commands.push(cmd);
    this.trace.push({ at: this.now, kind: 'send', step, undo, attempt: cmd.attempt, commandId: childId });
    const r: ScriptedReply = replyFor((undo ? this.script.undo : this.script.do)[step], cmd.attempt);
    if (r.kind === 'timeout') return;
    if (r.kind === 'late') {
      this.lateAnswer.set(step, { cmd, delay: r.delay });
      return;
    }
    const outcome: ChildOutcome = r.kind === 'ok' ? (undo ? 'compensated' : 'completed') : undo ? 'failed' : 'compensated';
    this.add(`child:${childId}:${undo ? 'undo' : 'do'}:${cmd.attempt}`, { kind: 'child', at: this.now + (r.delay ?? 1000), cmd, outcome });
  }

  /** Records a command and arranges the participant's scripted answer to it. */
  private onSend(commandId: string, events: readonly SagaEvent[]): void {
    const ev = events.find((e) => (e.type === 'StepDispatched' || e.type === 'CompensationDispatched') && e.commandId === commandId);
    if (ev === undefined || (ev.type !== 'StepDispatched' && ev.type !== 'CompensationDispatched')) return;
    const undo = ev.type === 'CompensationDispatched';
    const cmd: CommandRecord = { step: ev.step, undo, attempt: ev.attempt, commandId, at: this.now, result: null };
    this.commands.push(cmd);
    this.trace.push({ at: this.now, kind: 'send', step: ev.step, undo, attempt: ev.attempt, commandId });
    const l = leafOf(this.saga, ev.step);
    const spec = undo ? l?.compensate : l?.kind === 'command' ? l : undefined;
    if (spec === undefined || spec === null) return;
    // A forEach element answers as scripted for itself (`reserve[1]`), else as scripted for its stage.
    const r: ScriptedReply = replyFor(forStep(undo ? this.script.undo : this.script.do, ev.step), ev.attempt);
    if (r.kind === 'late') {
      this.lateAnswer.set(ev.step, { cmd, delay: r.delay });
      return;
    }
    const type = replyType(r.kind, spec.reply, undo);
    if (type === null) return;
    // A compensation's success carries nothing later expressions read: an empty payload.
    const sample = r.kind !== 'ok' ? forStep(this.samples.failure, ev.step) : undo ? {} : forStep(this.samples.success, ev.step);
    const at = this.now + (r.delay ?? defaultDelay(spec.timeout));
    this.add(`reply:${commandId}`, { kind: 'reply', at, cmd, type, payload: r.payload ?? sample ?? {} });
  }
}

/** A child's `$steps` in a simulation: the sample of what later expressions read of `$steps.<step>.steps`. */
function childSteps(sample: unknown): unknown {
  const steps = sample !== null && typeof sample === 'object' ? (sample as { steps?: unknown }).steps : undefined;
  return steps ?? {};
}

function waitingFor(s: InstanceState): string {
  const waiting = Object.entries(s.steps).filter(([, st]) => st.status === 'running').map(([n]) => n);
  return waiting.length === 0 ? 'nothing is awaited' : `${waiting.join(', ')} wait${waiting.length === 1 ? 's' : ''} with no timeout and no saga deadline`;
}

/** `lines.pick` for an element's step `lines[2].pick` (`cancel=lines.pick` cancels at the first element's), else null. */
function groupLeafName(step: string): string | null {
  const g = parseGroupStep(step);
  return g === null ? null : `${g.stage}.${g.step}`;
}
