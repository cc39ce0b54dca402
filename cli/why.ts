/**
 * `sagactl why`: one paragraph that answers "what is it waiting for": the step, since when,
 * attempt n of N, the next retry or deadline and when it falls, the last error, and what the
 * operator can do now. Pure: built from the API's documents and a clock passed in.
 */
import type { DefinitionDetail, HistoryEntryDocument, InstanceDocument, StepDetail, StepDocument, TimerDocument } from '../engine/api/documents.js';
import { duration, relative } from './render/time.js';
import { leafDetail, leafDetails, maxAttempts, pivotOf } from './views/definition-facts.js';
import { actDone, actor, actReason, operatorActs, type OperatorActView } from './views/operator-acts.js';

/** What `explain` reads: the API's documents and the time now. */
export interface WhyInput {
  readonly instance: InstanceDocument;
  /** The definition the instance runs; without it attempts read `n of ?` and subjects are not named. */
  readonly definition?: DefinitionDetail | undefined;
  /** The journal, oldest first: gives when the current attempt went out and what is left to undo. */
  readonly history?: readonly HistoryEntryDocument[] | undefined;
  readonly now: number;
  /**
   * Where the instance was read, as the flags that read it there again (` --archive DIR`): added
   * to the reading commands it suggests (describe, history, why), since the server no longer has
   * an archived instance. Absent: read from the server.
   */
  readonly from?: string | undefined;
}

/** What `why` found, for `-o json`, and the paragraph. */
export interface WhyAnswer {
  readonly id: string;
  readonly saga: string;
  readonly state: string;
  /** `reply`, `retry`, `event`, `undo-reply`, `undo-retry`, `next-step`, `operator` or `nothing`. */
  readonly waitingFor: string;
  readonly steps: readonly WaitingStep[];
  readonly lastError: string | null;
  /** The commands the operator can run now. */
  readonly actions: readonly string[];
  /** The last cancel or retry in the journal: who (the token's name), when, why; null when no operator acted. */
  readonly lastOperatorAction: OperatorActView | null;
  readonly text: string;
}

/** A step (or its compensation) the instance waits on. */
export interface WaitingStep {
  readonly step: string;
  readonly waitingFor: 'reply' | 'retry' | 'event' | 'undo-reply' | 'undo-retry' | 'time' | 'child';
  readonly attempt: number;
  /** Null: unlimited; undefined when the definition is not known. */
  readonly maxAttempts: number | null | undefined;
  readonly since: string | null;
  /** The timer that ends the wait: an attempt's timeout, the next retry, the wait's timeout. */
  readonly next: { readonly kind: string; readonly at: string } | null;
  readonly lastError: string | null;
}

type Data = Record<string, unknown>;

const dataOf = (e: HistoryEntryDocument): Data => (typeof e.data === 'object' && e.data !== null ? e.data as Data : {});

/** The last journal entry of `type` about `step`, or undefined. */
function lastEvent(history: readonly HistoryEntryDocument[], type: string, step: string): HistoryEntryDocument | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i];
    if (e !== undefined && e.type === type && dataOf(e).step === step) return e;
  }
  return undefined;
}

/** `12:00:05 UTC (3.20s ago)`; with the date when it is not today's; `note` goes in the brackets. */
function at(iso: string, now: number, note = ''): string {
  const day = iso.slice(0, 10);
  const time = iso.slice(11, 19);
  const today = new Date(now).toISOString().slice(0, 10);
  return `${day === today ? '' : `${day} `}${time} UTC (${relative(iso, now)}${note})`;
}

const maxText = (max: number | null | undefined): string => (max === undefined ? '?' : max === null ? 'unlimited' : String(max));

function ofN(n: number, max: number | null | undefined): string {
  return `attempt ${n} of ${maxText(max)}`;
}

function timerFor(timers: readonly TimerDocument[], kinds: readonly string[], step: string | null): TimerDocument | undefined {
  return timers.find((t) => kinds.includes(t.kind) && t.step === step);
}

function quoteError(e: string): string {
  return `“${e.length > 300 ? `${e.slice(0, 299)}…` : e}”`;
}

/** When a timer falls; one overdue by more than a few seconds means sagad is stopped or behind. */
function due(iso: string, now: number): string {
  const late = now - Date.parse(iso);
  return at(iso, now, late > 5000 ? '; overdue, so sagad is stopped or behind' : '');
}

function list(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1) ?? ''}`;
}

/** Steps still to undo: the last compensation queue of the journal minus those compensated since. */
function undoQueue(history: readonly HistoryEntryDocument[] | undefined): string[] | undefined {
  if (history === undefined) return undefined;
  let queue: string[] | undefined;
  for (const e of history) {
    const d = dataOf(e);
    if ((e.type === 'CompensationStarted' || e.type === 'LateSuccessRecorded') && Array.isArray(d.queue)) queue = d.queue.map(String);
    if (e.type === 'StepCompensated' && queue !== undefined) queue = queue.filter((s) => s !== d.step);
  }
  return queue;
}

interface Ctx {
  readonly doc: InstanceDocument;
  readonly def: DefinitionDetail | undefined;
  readonly history: readonly HistoryEntryDocument[];
  readonly timers: readonly TimerDocument[];
  readonly now: number;
  readonly pastPivot: boolean;
  /** A reading command about `id`, read from where the instance was: `sagactl history ID --archive DIR`. */
  readonly read: (command: string, id: string) => string;
}

/** Where a step's participant listens, for "check the service consuming ...". */
function consumerHint(detail: StepDetail | undefined, undo: boolean): string | null {
  const subject = undo ? detail?.compensation?.command.subject : detail?.command?.subject;
  return subject === undefined ? null : subject;
}

function forwardWait(c: Ctx, s: StepDocument): { sentence: string; fact: WaitingStep; subject: string | null } {
  const detail = leafDetail(c.def, s.name);
  const max = maxAttempts(detail);
  const kindWait = detail?.kind === 'wait' || (detail === undefined && lastEvent(c.history, 'WaitStarted', s.name) !== undefined);
  if (kindWait) {
    const started = lastEvent(c.history, 'WaitStarted', s.name)?.at ?? s.startedAt;
    const timer = timerFor(c.timers, ['wait_timeout'], s.name);
    const what = detail?.type === undefined ? 'its event' : `a ${detail.type} event on ${detail.subject ?? '?'}`;
    let sentence = `It is waiting for ${what} for step ${s.name}${started === null ? '' : ` since ${at(started, c.now)}`}`;
    sentence += timer === undefined ? ', with no timeout of its own (the saga deadline bounds it).' : `; if none comes by ${due(timer.dueAt, c.now)}, the step times out and the saga compensates.`;
    return {
      sentence, subject: null,
      fact: { step: s.name, waitingFor: 'event', attempt: s.attempts, maxAttempts: 1, since: started, next: timer === undefined ? null : { kind: timer.kind, at: timer.dueAt }, lastError: s.lastError },
    };
  }
  const kind = detail?.kind ?? (lastEvent(c.history, 'DelayStarted', s.name) !== undefined ? 'delay' : lastEvent(c.history, 'ChildStarted', s.name) !== undefined ? 'saga' : undefined);
  if (kind === 'delay' || kind === 'saga') return timeOrChildWait(c, s, kind);
  const subject = consumerHint(detail, false);
  if (s.state === 'retrying') {
    const failed = lastEvent(c.history, 'StepAttemptFailed', s.name);
    const timer = timerFor(c.timers, ['retry'], s.name);
    const retryAt = failed === undefined ? undefined : dataOf(failed).retryAt;
    const when = timer?.dueAt ?? (typeof retryAt === 'number' ? new Date(retryAt).toISOString() : null);
    let sentence = `Step ${s.name} failed its ${ofN(s.attempts, max)}${failed === undefined ? '' : ` at ${at(failed.at, c.now)}`}${s.lastError === null ? '' : ` with ${quoteError(s.lastError)}`}`;
    sentence += when === null ? '; it is waiting to send the next attempt.' : `; attempt ${s.attempts + 1} goes out at ${due(when, c.now)}.`;
    return {
      sentence, subject,
      fact: { step: s.name, waitingFor: 'retry', attempt: s.attempts, maxAttempts: max, since: failed?.at ?? s.startedAt, next: when === null ? null : { kind: 'retry', at: when }, lastError: s.lastError },
    };
  }
  const sent = lastEvent(c.history, 'StepDispatched', s.name)?.at ?? s.startedAt;
  const timer = timerFor(c.timers, ['attempt_timeout'], s.name);
  const reply = detail?.reply === undefined ? '' : ` (${detail.reply.success.join(' or ')}) on ${detail.reply.subject}`;
  const command = detail?.command === undefined ? 'its command' : `its ${detail.command.type} command`;
  let sentence = `It is waiting for the reply${reply} to ${command} for step ${s.name}, ${ofN(s.attempts, max)}${sent === null ? '' : `, sent ${at(sent, c.now)}`}`;
  if (timer !== undefined) {
    const more = max === null || (max !== undefined && s.attempts < max) || detail?.afterPivot === true;
    const then = more ? `attempt ${s.attempts + 1} follows` : max === undefined ? 'it retries or gives up' : 'the step times out and the saga compensates';
    sentence += `; without a reply by ${due(timer.dueAt, c.now)}, ${then}`;
  }
  sentence += s.lastError === null ? '.' : `. The previous attempt failed with ${quoteError(s.lastError)}.`;
  return {
    sentence, subject,
    fact: { step: s.name, waitingFor: 'reply', attempt: s.attempts, maxAttempts: max, since: sent, next: timer === undefined ? null : { kind: timer.kind, at: timer.dueAt }, lastError: s.lastError },
  };
}

/** A `delay` waits for its time; a `saga` step for its child's end (docs/step-kinds.md). */
function timeOrChildWait(c: Ctx, s: StepDocument, kind: 'delay' | 'saga'): { sentence: string; fact: WaitingStep; subject: string | null } {
  const started = lastEvent(c.history, kind === 'delay' ? 'DelayStarted' : 'ChildStarted', s.name);
  const since = started?.at ?? s.startedAt;
  const timer = timerFor(c.timers, [kind === 'delay' ? 'delay' : 'child_timeout'], s.name);
  const next = timer === undefined ? null : { kind: timer.kind, at: timer.dueAt };
  if (kind === 'delay') {
    const sentence = `Step ${s.name} is a delay${since === null ? '' : ` that began ${at(since, c.now)}`}${timer === undefined ? '; its timer is not pending.' : `; it ends ${due(timer.dueAt, c.now)}, and the saga goes on.`}`;
    return { sentence, subject: null, fact: { step: s.name, waitingFor: 'time', attempt: 1, maxAttempts: 1, since, next, lastError: s.lastError } };
  }
  const child = s.child ?? (started === undefined ? undefined : String(dataOf(started).childId));
  let sentence = `It is waiting for the child saga ${child ?? '?'} of step ${s.name} to end${since === null ? '' : ` (started ${at(since, c.now)})`}: see \`${c.read('why', child ?? '')}\``;
  sentence += timer === undefined ? '.' : `; if it has not ended by ${due(timer.dueAt, c.now)}, it is cancelled and the saga compensates.`;
  return { sentence, subject: null, fact: { step: s.name, waitingFor: 'child', attempt: 1, maxAttempts: 1, since, next, lastError: s.lastError } };
}

function undoWait(c: Ctx, s: StepDocument): { sentence: string; fact: WaitingStep; subject: string | null } {
  const comp = s.compensation;
  const detail = leafDetail(c.def, s.name);
  if (detail?.kind === 'saga') {
    const since = lastEvent(c.history, 'ChildCompensationRequested', s.name)?.at ?? comp?.startedAt ?? null;
    const sentence = `It is waiting for the child saga ${s.child ?? '?'} of step ${s.name} to compensate${since === null ? '' : ` (asked ${at(since, c.now)})`}: see \`${c.read('why', s.child ?? '')}\`.`;
    return { sentence, subject: null, fact: { step: s.name, waitingFor: 'child', attempt: comp?.attempts ?? 1, maxAttempts: null, since, next: null, lastError: comp?.lastError ?? null } };
  }
  const max = maxAttempts(detail, true);
  const n = comp?.attempts ?? 0;
  const subject = consumerHint(detail, true);
  const type = detail?.compensation?.command.type;
  if (comp?.state === 'retrying') {
    const failed = lastEvent(c.history, 'CompensationAttemptFailed', s.name);
    const timer = timerFor(c.timers, ['comp_retry'], s.name);
    let sentence = `Undoing step ${s.name}${type === undefined ? '' : ` (${type})`} failed its ${ofN(n, max)}${failed === undefined ? '' : ` at ${at(failed.at, c.now)}`}${comp.lastError === null ? '' : ` with ${quoteError(comp.lastError)}`}`;
    sentence += timer === undefined ? '; it is waiting to send the next attempt.' : `; attempt ${n + 1} goes out at ${due(timer.dueAt, c.now)}.`;
    return {
      sentence, subject,
      fact: { step: s.name, waitingFor: 'undo-retry', attempt: n, maxAttempts: max, since: failed?.at ?? comp.startedAt, next: timer === undefined ? null : { kind: timer.kind, at: timer.dueAt }, lastError: comp.lastError },
    };
  }
  const sent = lastEvent(c.history, 'CompensationDispatched', s.name)?.at ?? comp?.startedAt ?? null;
  const timer = timerFor(c.timers, ['comp_timeout'], s.name);
  const reply = detail?.compensation === undefined || detail.compensation === null ? '' : ` (${detail.compensation.reply.success.join(' or ')}) on ${detail.compensation.reply.subject}`;
  let sentence = `It is waiting for the reply${reply} to ${type === undefined ? 'the compensation' : `its ${type} command`} that undoes step ${s.name}, ${ofN(n, max)}${sent === null ? '' : `, sent ${at(sent, c.now)}`}`;
  if (timer !== undefined) {
    const more = max === null || (max !== undefined && n < max);
    sentence += `; without a reply by ${due(timer.dueAt, c.now)}, ${more ? `attempt ${n + 1} follows` : 'the compensation fails and the instance waits for an operator'}`;
  }
  sentence += comp?.lastError === null || comp?.lastError === undefined ? '.' : `. The previous attempt failed with ${quoteError(comp.lastError)}.`;
  return {
    sentence, subject,
    fact: { step: s.name, waitingFor: 'undo-reply', attempt: n, maxAttempts: max, since: sent, next: timer === undefined ? null : { kind: timer.kind, at: timer.dueAt }, lastError: comp?.lastError ?? null },
  };
}

function latestError(doc: InstanceDocument): string | null {
  let best: { at: string; error: string } | null = null;
  for (const s of doc.steps) {
    for (const [error, time] of [[s.lastError, s.finishedAt ?? s.startedAt], [s.compensation?.lastError ?? null, s.compensation?.finishedAt ?? s.compensation?.startedAt ?? null]] as const) {
      if (error !== null && (best === null || (time ?? '') >= best.at)) best = { at: time ?? '', error };
    }
  }
  return best?.error ?? null;
}

const checkService = (subjects: readonly (string | null)[]): string => {
  const named = [...new Set(subjects.filter((s): s is string => s !== null))];
  return named.length === 0 ? '' : ` If no answer comes, check the service that consumes ${list(named)}.`;
};

/** Pure: the answer to "what is this instance waiting for", with its facts. */
export function explain(input: WhyInput): WhyAnswer {
  const doc = input.instance;
  const c: Ctx = {
    doc, def: input.definition, history: input.history ?? [], timers: doc.timers ?? [], now: input.now,
    pastPivot: (() => {
      const pivot = pivotOf(input.definition);
      const st = doc.steps.find((s) => s.name === pivot)?.state;
      // Sent, done, or skipped by its `when`: a skipped pivot is passed (the core's isPastPivot).
      return st !== undefined && st !== 'pending';
    })(),
    read: (command, about) => `sagactl ${command} ${about}${input.from ?? ''}`,
  };
  const id = doc.id;
  const cancel = `sagactl cancel ${id} --reason "..."`;
  const retry = `sagactl retry ${id}`;
  const parts: string[] = [];
  const actions: string[] = [];
  const steps: WaitingStep[] = [];
  let waitingFor = 'nothing';
  const lastError = latestError(doc);
  const base = { id, saga: doc.saga, state: doc.state };

  switch (doc.state) {
    case 'running': {
      const running = doc.steps.filter((s) => s.state === 'running' || s.state === 'retrying');
      // A forEach stage runs while its elements do (`reserve[2]`, `lines[2].pick`): they are what it waits on.
      const active = running.filter((s) => !running.some((e) => e.name.startsWith(`${s.name}[`)));
      const found = active.map((s) => forwardWait(c, s));
      steps.push(...found.map((f) => f.fact));
      waitingFor = found[0]?.fact.waitingFor ?? 'next-step';
      parts.push(`${doc.saga} instance ${id} is running.`);
      if (found.length === 0) parts.push('No step is in flight at this moment: the next one starts as soon as the engine gets to it.');
      if (found.length > 1) parts.push(`${found.length} steps run in parallel.`);
      parts.push(...found.map((f) => f.sentence));
      const deadline = timerFor(c.timers, ['deadline'], null)?.dueAt ?? doc.deadlineAt;
      if (c.pastPivot) {
        parts.push(`It is past its pivot ${pivotOf(c.def) ?? ''}, the point of no return: cancel is refused and the saga deadline no longer compensates; the remaining steps retry until they succeed.`);
        actions.push(c.read('describe', id));
        parts.push(`Nothing to do but let it finish.${checkService(found.map((f) => f.subject))}`);
      } else {
        if (deadline !== null) parts.push(`The saga deadline falls at ${due(deadline, c.now)}; if it is still running then, it compensates.`);
        actions.push(cancel);
        parts.push(`You can let it run, or stop it and undo its done steps with \`${cancel}\`.${checkService(found.map((f) => f.subject))}`);
      }
      break;
    }
    case 'compensating': {
      parts.push(`${doc.saga} instance ${id} is compensating${doc.reason === undefined ? '' : ` because ${doc.reason}`}.`);
      const active = doc.steps.filter((s) => s.compensation !== null && (s.compensation.state === 'running' || s.compensation.state === 'retrying'));
      const found = active.map((s) => undoWait(c, s));
      steps.push(...found.map((f) => f.fact));
      waitingFor = found[0]?.fact.waitingFor ?? 'next-step';
      if (found.length === 0) parts.push('No compensation is in flight at this moment: the next one starts as soon as the engine gets to it.');
      parts.push(...found.map((f) => f.sentence));
      const queue = undoQueue(input.history)?.filter((s) => !active.some((a) => a.name === s));
      if (queue !== undefined && queue.length > 0) parts.push(`After that, ${list(queue)} ${queue.length === 1 ? 'is' : 'are'} still to undo.`);
      actions.push(`${c.read('history', id)} --follow`);
      parts.push(`Nothing to do but wait: a compensation cannot be cancelled; if its attempts run out, the instance becomes failed and waits for \`${retry}\`.${checkService(found.map((f) => f.subject))}`);
      break;
    }
    case 'failed': {
      waitingFor = 'operator';
      const failure = doc.failure;
      const step = doc.steps.find((s) => s.name === failure?.step);
      const detail = leafDetail(c.def, failure?.step ?? '');
      if (step?.compensation?.state === 'compensation_failed') {
        const comp = step.compensation;
        const max = maxAttempts(detail, true);
        const type = detail?.compensation?.command.type;
        parts.push(`${doc.saga} instance ${id} is failed and waiting for an operator: undoing step ${step.name}${type === undefined ? '' : ` (${type})`} failed after ${comp.attempts} of ${maxText(max)} attempts${comp.finishedAt === null ? '' : `, at ${at(comp.finishedAt, c.now)}`}${comp.lastError === null ? '' : `, the last with ${quoteError(comp.lastError)}`}.`);
        if (doc.reason !== undefined) parts.push(`It had begun compensating because ${doc.reason}.`);
        const queue = undoQueue(input.history)?.filter((s) => s !== step.name);
        if (queue !== undefined && queue.length > 0) parts.push(`${list(queue)} ${queue.length === 1 ? 'is' : 'are'} still to undo after it.`);
        steps.push({ step: step.name, waitingFor: 'undo-retry', attempt: comp.attempts, maxAttempts: max, since: comp.finishedAt, next: null, lastError: comp.lastError });
        const subject = consumerHint(detail, true);
        actions.push(retry);
        parts.push(`Fix what makes the undo fail${subject === null ? '' : ` (the service that consumes ${subject})`}, then resume the compensation with \`${retry}\`.`);
      } else {
        const name = failure?.step ?? step?.name ?? '?';
        parts.push(`${doc.saga} instance ${id} is failed and waiting for an operator: step ${name} failed${step?.finishedAt === null || step === undefined ? '' : ` at ${at(step.finishedAt, c.now)}`}${failure === undefined ? '' : ` with ${quoteError(failure.error)}`}, after the pivot, so nothing was compensated.`);
        if (step !== undefined) steps.push({ step: step.name, waitingFor: 'retry', attempt: step.attempts, maxAttempts: maxAttempts(detail), since: step.finishedAt, next: null, lastError: step.lastError });
        const subject = consumerHint(detail, false);
        actions.push(retry);
        parts.push(`Fix the cause${subject === null ? '' : ` (the service that consumes ${subject})`}, then resume step ${name} with \`${retry}\`.`);
      }
      break;
    }
    case 'completed': {
      const done = doc.steps.filter((s) => s.state === 'succeeded').length;
      const skipped = doc.steps.filter((s) => s.state === 'skipped').length;
      parts.push(`${doc.saga} instance ${id} is waiting for nothing: it completed at ${at(doc.updatedAt, c.now)}, ${duration(Date.parse(doc.updatedAt) - Date.parse(doc.createdAt))} after it started; ${done} step${done === 1 ? '' : 's'} succeeded${skipped > 0 ? `, ${skipped} skipped` : ''}. There is nothing to do.`);
      break;
    }
    case 'compensated': {
      const undone = doc.steps.filter((s) => s.compensation?.state === 'compensated').map((s) => s.name);
      const failedStep = doc.steps.find((s) => s.state === 'failed' || s.state === 'timed_out');
      parts.push(`${doc.saga} instance ${id} is waiting for nothing: it was compensated at ${at(doc.updatedAt, c.now)}${doc.reason === undefined ? '' : ` because ${doc.reason}`}.`);
      parts.push(undone.length === 0 ? 'No step needed undoing.' : `Undone: ${list(undone)}.`);
      if (failedStep?.lastError !== null && failedStep?.lastError !== undefined && !(doc.reason ?? '').includes(failedStep.lastError)) parts.push(`Step ${failedStep.name} ended with ${quoteError(failedStep.lastError)}.`);
      actions.push(c.read('history', id));
      parts.push(`There is nothing to do; \`${c.read('history', id)}\` shows how it went.`);
      break;
    }
    default:
      parts.push(`${doc.saga} instance ${id} is in state ${doc.state}, which this sagactl does not know; \`${c.read('describe', id)}\` shows its steps.`);
  }
  // A forward step's error while compensating is the reason, already told; a running one's may be news.
  if (doc.state === 'running') {
    const shown = steps.some((s) => s.lastError !== null && s.lastError === lastError);
    if (lastError !== null && !shown) parts.push(`The last error recorded was ${quoteError(lastError)}.`);
  }
  if (leafDetails(input.definition).length === 0 && (doc.state === 'running' || doc.state === 'compensating')) {
    parts.push('(Its definition could not be read, so attempt limits are unknown.)');
  }
  // Who acted last goes right after the state: it often is the why (a cancel) or what changed (a retry).
  const acts = operatorActs(c.history);
  const lastAct = acts.at(-1) ?? null;
  if (lastAct !== null) {
    const more = acts.length > 1 ? ` (${acts.length} operator actions in all: \`${c.read('describe', id)}\` lists them)` : '';
    parts.splice(1, 0, `Last operator action: ${actor(lastAct)} ${actDone(lastAct)} at ${at(lastAct.at, c.now)}${actReason(lastAct)}${more}.`);
  }
  return { ...base, waitingFor, steps, lastError, actions, lastOperatorAction: lastAct, text: parts.join(' ') };
}
