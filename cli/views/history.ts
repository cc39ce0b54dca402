/** The journal as a timeline: each event at its offset from the start, with what it means. */
import type { HistoryEntryDocument } from '../../engine/api/documents.js';
import { shown } from '../render/escape.js';
import type { Style } from '../render/style.js';
import { truncate } from '../render/table.js';
import { duration } from '../render/time.js';
import { actDone, actor, actReason, operatorActOf } from './operator-acts.js';

type Data = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? '');
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** `at` (epoch ms) as an offset from the start. */
function at(ms: unknown, start: number): string {
  const n = num(ms);
  return n === undefined ? '?' : `+${duration(n - start)}`;
}

/** Pure: one line of meaning for a journal event's data; `start` is the instance's first event time (epoch ms). */
export function eventDetail(type: string, d: Data, start: number): string {
  switch (type) {
    case 'SagaStarted': {
      const parts = [`key ${d.key === null ? '-' : str(d.key)}`, `correlation ${str(d.correlationId)}`];
      if (num(d.deadlineAt) !== undefined) parts.push(`deadline ${at(d.deadlineAt, start)}`);
      return parts.join(', ');
    }
    case 'StepSkipped': return `${str(d.step)} (its when was false)`;
    case 'StepDispatched': return `${str(d.step)} attempt ${str(d.attempt)} sent, times out at ${at(d.timeoutAt, start)}`;
    case 'DelayStarted': return `${str(d.step)} waits until ${at(d.until, start)}`;
    case 'ChildStarted': return `${str(d.step)} started child ${str(d.childId)} (saga ${str(d.saga)})${d.timeoutAt === null || d.timeoutAt === undefined ? '' : `, times out at ${at(d.timeoutAt, start)}`}`;
    case 'ChildCompensationRequested': return `${str(d.step)}: child ${str(d.childId)} asked to compensate`;
    case 'WaitStarted': return `${str(d.step)} waits for its event${d.timeoutAt === null ? '' : `, times out at ${at(d.timeoutAt, start)}`}`;
    case 'ForEachStarted': {
      const n = Array.isArray(d.items) ? d.items.length : 0;
      if (n === 0) return `${str(d.step)} runs once per element: no element`;
      return `${str(d.step)} runs once per element: ${n === 1 ? `1 element, ${str(d.step)}[0]` : `${n} elements, ${str(d.step)}[0] to ${str(d.step)}[${n - 1}]`}`;
    }
    case 'StepSucceeded': return `${str(d.step)}${d.pivot === true ? ' (the pivot: no turning back)' : ''}`;
    case 'StepAttemptFailed': return `${str(d.step)} attempt ${str(d.attempt)}: ${str(d.error)}; next attempt at ${at(d.retryAt, start)}`;
    case 'StepFailed': return `${str(d.step)} ${str(d.status)}: ${str(d.error)}`;
    case 'StepGivenUp': return `${str(d.step)} given up (${str(d.status)}, outcome ${str(d.outcome)})`;
    case 'CompensationStarted': {
      const reason = (d.reason ?? {}) as Data;
      const queue = Array.isArray(d.queue) ? d.queue.map(str) : [];
      const by = typeof reason.by === 'string' ? ` (by ${reason.by})` : '';
      return `${str(reason.message)}${by}; to undo: ${queue.length === 0 ? 'nothing' : queue.join(', ')}`;
    }
    case 'CompensationDispatched': return `${str(d.step)} undo attempt ${str(d.attempt)} sent, times out at ${at(d.timeoutAt, start)}`;
    case 'CompensationAttemptFailed': return `${str(d.step)} undo attempt ${str(d.attempt)}: ${str(d.error)}; next attempt at ${at(d.retryAt, start)}`;
    case 'StepCompensated': return str(d.step);
    case 'CompensationFailed': return `${str(d.step)}: ${str(d.error)}`;
    case 'LateSuccessRecorded': return `${str(d.step)} answered success after it was given up${Array.isArray(d.queue) ? `; to undo: ${d.queue.map(str).join(', ')}` : ''}`;
    case 'CompensationResumed':
    case 'ForwardResumed': {
      const act = operatorActOf({ type, data: d });
      return act === null ? '' : `${actor(act)} ${actDone(act)}${actReason(act)}`;
    }
    case 'SagaCompleted':
    case 'SagaCompensated': return '';
    case 'SagaFailed': return `${str(d.step)}: ${str(d.error)}`;
    default: {
      const rest = Object.fromEntries(Object.entries(d).filter(([k]) => k !== 'type' && k !== 'at'));
      return Object.keys(rest).length === 0 ? '' : JSON.stringify(rest);
    }
  }
}

const EVENT_WIDTH = 25;
const AT_WIDTH = 8;

/** Pure: the header of the timeline. */
export function historyHeader(): string {
  return `${'SEQ'.padStart(4)}  ${'AT'.padStart(AT_WIDTH)}  ${'EVENT'.padEnd(EVENT_WIDTH)}  DETAIL\n`;
}

/** Pure: one timeline row, fixed columns so rows can be printed as they arrive (`--follow`); data's control characters escaped. */
export function historyRow(e: HistoryEntryDocument, start: number, width: number, style: Style): string {
  const data = (typeof e.data === 'object' && e.data !== null ? e.data : {}) as Data;
  const offsetText = `+${duration(Date.parse(e.at) - start)}`;
  const left = `${String(e.seq).padStart(4)}  ${offsetText.padStart(AT_WIDTH)}  `;
  const type = shown(e.type).padEnd(EVENT_WIDTH);
  // Errors, reasons, keys and payloads are data: escaped before the row is cut and painted.
  const detail = shown(eventDetail(e.type, data, start));
  const room = width - left.length - EVENT_WIDTH - 2;
  const cut = Number.isFinite(room) && room >= 10 ? truncate(detail, room) : detail;
  const painted = /Failed|GivenUp/.test(e.type) ? style.red(type) : e.type.startsWith('Saga') ? style.bold(type) : type;
  return `${left}${painted}  ${cut}`.trimEnd() + '\n';
}

/** Pure: the whole timeline; times are offsets from the first event. */
export function historyText(entries: readonly HistoryEntryDocument[], width: number, style: Style): string {
  const start = entries[0] === undefined ? 0 : Date.parse(entries[0].at);
  return historyHeader() + entries.map((e) => historyRow(e, start, width, style)).join('');
}
