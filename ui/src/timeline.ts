/**
 * An instance's journal as a timeline: one lane per step and one per step's compensation, each
 * attempt a span on one time axis that starts at the saga's start. Pure: built from the API's
 * history documents and a clock passed in, so a test can check it without a browser.
 */
import type { HistoryEntryDocument } from '../../engine/api/index.js';
import { actDone, actor, actReason, operatorActOf } from '../../cli/views/operator-acts.js';

/** How an attempt ended, or `open` while it is still in flight. */
export type SpanEnd = 'succeeded' | 'failed' | 'timed_out' | 'retry' | 'given_up' | 'compensated' | 'compensation_failed' | 'open';

/** One attempt of a step or of its compensation (or a wait for an event), in ms from the start. */
export interface Span {
  readonly attempt: number;
  readonly from: number;
  /** When it ended; for an open span, the end of the axis. */
  readonly to: number;
  readonly end: SpanEnd;
  /** The error or reply it ended with, for the tooltip. */
  readonly note: string | null;
}

/** A point event on a lane (a skip, a late success) or on the saga (compensation began). */
export interface Mark {
  readonly at: number;
  readonly label: string;
}

/** One row: a step's attempts, or its compensation's (`undo`). */
export interface Lane {
  readonly id: string;
  readonly step: string;
  readonly undo: boolean;
  readonly spans: Span[];
  readonly marks: Mark[];
}

/** The whole picture: lanes in the order they first appear in the journal, times in ms from the start. */
export interface Timeline {
  /** Epoch ms of `SagaStarted` (or of the first entry). */
  readonly startedAt: number;
  /** Length of the axis in ms: to the end of the saga, or to `now` while it runs. */
  readonly length: number;
  readonly lanes: Lane[];
  /** Saga-level marks: compensation started, resumed, the end. */
  readonly marks: Mark[];
  readonly ended: boolean;
}

type Data = Record<string, unknown>;
const dataOf = (e: HistoryEntryDocument): Data => (typeof e.data === 'object' && e.data !== null ? e.data as Data : {});
const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

interface OpenSpan { attempt: number; from: number }
interface LaneBuild { lane: Lane; open: OpenSpan | null }

/** Pure: the timeline of a journal (oldest first); open attempts run to `now` unless the saga ended. */
export function buildTimeline(history: readonly HistoryEntryDocument[], now: number): Timeline {
  const first = history[0];
  const startedAt = first === undefined ? now : Date.parse(first.at);
  const lanes = new Map<string, LaneBuild>();
  const marks: Mark[] = [];
  let endAt: number | null = null;

  const laneOf = (step: string, undo: boolean): LaneBuild => {
    const id = `${undo ? 'undo' : 'do'}:${step}`;
    let l = lanes.get(id);
    if (l === undefined) lanes.set(id, (l = { lane: { id, step, undo, spans: [], marks: [] }, open: null }));
    return l;
  };
  const open = (l: LaneBuild, attempt: number, at: number): void => {
    // A new attempt while one is open (a re-dispatch after a restart) closes the earlier one as retried.
    if (l.open !== null) l.lane.spans.push({ attempt: l.open.attempt, from: l.open.from, to: at, end: 'retry', note: null });
    l.open = { attempt, from: at };
  };
  const close = (l: LaneBuild, at: number, end: SpanEnd, note: string | null): void => {
    // An end with nothing in flight (a step given up while waiting to retry) is a point, not a span.
    if (l.open === null) {
      l.lane.marks.push({ at, label: `${end.replace('_', ' ')}${note === null ? '' : `: ${note}`}` });
      return;
    }
    l.lane.spans.push({ attempt: l.open.attempt, from: l.open.from, to: at, end, note });
    l.open = null;
  };

  for (const e of history) {
    const at = Date.parse(e.at) - startedAt;
    const d = dataOf(e);
    const step = text(d.step) ?? '';
    const attempt = typeof d.attempt === 'number' ? d.attempt : 1;
    switch (e.type) {
      case 'StepDispatched': open(laneOf(step, false), attempt, at); break;
      case 'WaitStarted': case 'DelayStarted': case 'ChildStarted': open(laneOf(step, false), 1, at); break;
      case 'ChildCompensationRequested': open(laneOf(step, true), 1, at); break;
      case 'StepSucceeded': close(laneOf(step, false), at, 'succeeded', null); break;
      case 'StepAttemptFailed': close(laneOf(step, false), at, 'retry', text(d.error)); break;
      case 'StepFailed': close(laneOf(step, false), at, d.status === 'timed_out' ? 'timed_out' : 'failed', text(d.error)); break;
      case 'StepGivenUp': {
        const l = laneOf(step, false);
        close(l, at, 'given_up', `given up (${text(d.status) ?? 'unknown'}): its outcome is ${text(d.outcome) ?? 'unknown'}`);
        break;
      }
      case 'StepSkipped': laneOf(step, false).lane.marks.push({ at, label: 'skipped (its when was false)' }); break;
      case 'LateSuccessRecorded': laneOf(step, false).lane.marks.push({ at, label: 'late success recorded' }); break;
      case 'ForwardResumed':
      case 'CompensationResumed': {
        // Who resumed it and why: the token's name and the reason the journal kept.
        const act = operatorActOf(e);
        marks.push({ at, label: act === null ? e.type : `${actor(act)} ${actDone(act)}${actReason(act)}` });
        break;
      }
      case 'CompensationStarted': {
        const reason = d.reason as { message?: unknown; by?: unknown } | undefined;
        const by = typeof reason?.by === 'string' ? ` (by ${reason.by})` : '';
        marks.push({ at, label: `compensation started${typeof reason?.message === 'string' ? `: ${reason.message}` : ''}${by}` });
        break;
      }
      case 'CompensationDispatched': open(laneOf(step, true), attempt, at); break;
      case 'CompensationAttemptFailed': close(laneOf(step, true), at, 'retry', text(d.error)); break;
      case 'StepCompensated': close(laneOf(step, true), at, 'compensated', null); break;
      case 'CompensationFailed': close(laneOf(step, true), at, 'compensation_failed', text(d.error)); break;
      case 'SagaCompleted': case 'SagaCompensated': case 'SagaFailed':
        marks.push({ at, label: e.type.replace('Saga', '').toLowerCase() });
        endAt = at;
        break;
      default: break; // SagaStarted, and event types newer than this console: nothing to draw
    }
  }
  // A failed saga can be resumed: only completed and compensated end the axis for good.
  const last = history.at(-1);
  const ended = last !== undefined && (last.type === 'SagaCompleted' || last.type === 'SagaCompensated' || last.type === 'SagaFailed');
  const axisEnd = ended && endAt !== null ? endAt : Math.max(now - startedAt, endAt ?? 0);
  let length = Math.max(1, axisEnd);
  for (const { lane, open: o } of lanes.values()) {
    if (o !== null) lane.spans.push({ attempt: o.attempt, from: o.from, to: Math.max(o.from, axisEnd), end: 'open', note: null });
    for (const s of lane.spans) length = Math.max(length, s.to);
  }
  return { startedAt, length, lanes: [...lanes.values()].map((l) => l.lane), marks, ended };
}

/** Pure: the outputs of the steps that succeeded (their success replies' payloads), by step. */
export function stepOutputs(history: readonly HistoryEntryDocument[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of history) {
    const d = dataOf(e);
    if ((e.type === 'StepSucceeded' || e.type === 'LateSuccessRecorded') && typeof d.step === 'string') out[d.step] = d.output ?? null;
  }
  return out;
}

/** Pure: evenly spaced axis ticks (ms) at a round step, about `count` of them, 0 included. */
export function ticks(length: number, count = 5): number[] {
  const raw = length / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? pow * 10;
  const out: number[] = [];
  for (let t = 0; t <= length; t += step) out.push(t);
  return out;
}
