/** Tables of instances: the list, and one instance with its steps (`describe`). */
import type { DefinitionDetail, InstanceDocument, InstanceSummaryDocument, StepDocument } from '../../engine/api/documents.js';
import type { Style } from '../render/style.js';
import { renderFields, renderTable, type Cell, type Column } from '../render/table.js';
import { age, duration, offset, when } from '../render/time.js';
import { attemptsText, leafDetail, maxAttempts } from './definition-facts.js';
import type { OperatorActView } from './operator-acts.js';

/** How a view renders: the clock, the terminal width, the colours. */
export interface ViewOptions {
  readonly now: number;
  readonly width: number;
  readonly style: Style;
}

/** Pure: the instance list as a table, newest first as given; on a narrow terminal SAGA and KEY shrink, then UPDATED and AGE are left out. */
export function instanceListTable(items: readonly InstanceSummaryDocument[], o: ViewOptions): string {
  const columns: Column[] = [
    { header: 'ID' }, { header: 'SAGA', shrink: true, min: 10 }, { header: 'KEY', shrink: true, min: 8 }, { header: 'STATE' },
    { header: 'AGE', align: 'right', drop: 2 }, { header: 'UPDATED', align: 'right', drop: 1 },
  ];
  const rows: Cell[][] = items.map((i) => [
    i.id, i.saga, i.key ?? '', { text: i.state, paint: o.style.state }, age(i.createdAt, o.now), age(i.updatedAt, o.now),
  ]);
  return renderTable(columns, rows, o.width);
}

function stepTimes(s: { startedAt: string | null; finishedAt: string | null }, origin: string, now: number): [string, string, string] {
  const started = s.startedAt === null ? '' : offset(s.startedAt, origin);
  const finished = s.finishedAt === null ? '' : offset(s.finishedAt, origin);
  let took = '';
  if (s.startedAt !== null) {
    took = s.finishedAt === null ? `${duration(now - Date.parse(s.startedAt))} so far` : duration(Date.parse(s.finishedAt) - Date.parse(s.startedAt));
  }
  return [started, finished, took];
}

function stepRows(doc: InstanceDocument, def: DefinitionDetail | undefined, o: ViewOptions): Cell[][] {
  const rows: Cell[][] = [];
  const state = (s: string): Cell => ({ text: s, paint: o.style.state });
  for (const s of doc.steps as StepDocument[]) {
    const detail = leafDetail(def, s.name);
    const attempts = s.state === 'pending' && s.attempts === 0 ? '' : attemptsText(s.attempts, maxAttempts(detail));
    rows.push([s.name, state(s.state), attempts, ...stepTimes(s, doc.createdAt, o.now), s.lastError ?? '']);
    const c = s.compensation;
    if (c !== null) {
      const times = stepTimes({ startedAt: c.startedAt ?? null, finishedAt: c.finishedAt ?? null }, doc.createdAt, o.now);
      rows.push([{ text: '  ↳ compensation', paint: o.style.dim }, state(c.state), c.attempts === 0 ? '' : attemptsText(c.attempts, maxAttempts(detail, true)), ...times, c.lastError ?? '']);
    }
  }
  return rows;
}

/** Pure: the operator actions as a table: when, what, the token's name (`-` for a journal without it), the reason. */
export function operatorActsTable(acts: readonly OperatorActView[], o: ViewOptions): string {
  const columns: Column[] = [{ header: 'OPERATOR ACTION' }, { header: 'AT' }, { header: 'BY', shrink: true }, { header: 'REASON', shrink: true, min: 10 }];
  const rows: Cell[][] = acts.map((a) => [
    a.action === 'cancel' ? 'cancel' : `retry ${a.step === null ? 'compensation' : a.step}`, when(a.at, o.now), a.by ?? '-', a.reason ?? '',
  ]);
  return renderTable(columns, rows, o.width);
}

/** Pure: one instance: its fields, the step table with compensation rows, its pending timers, and who acted on it (`acts`, from its journal). */
export function describeText(doc: InstanceDocument, def: DefinitionDetail | undefined, o: ViewOptions, acts: readonly OperatorActView[] = []): string {
  const st = o.style;
  const fields: [string, Cell][] = [
    ['Instance', { text: doc.id, paint: st.bold }],
    ['Saga', doc.saga],
    ['Definition', `${doc.definitionHash}${def === undefined ? ' (not available: attempts show n/?)' : ''}`],
    ['Key', doc.key ?? '-'],
    ['Correlation', doc.correlationId],
    ['State', { text: doc.state, paint: st.state }],
  ];
  if (doc.parent !== undefined) fields.push(['Parent', `${doc.parent.id} (${doc.parent.saga}, step ${doc.parent.step})`]);
  const children = doc.steps.flatMap((s) => (s.child === undefined ? [] : [`${s.child} (step ${s.name})`]));
  if (children.length > 0) fields.push(['Children', children.join(', ')]);
  if (doc.reason !== undefined) fields.push(['Reason', doc.reason]);
  if (doc.failure !== undefined) fields.push(['Failure', `${doc.failure.step}: ${doc.failure.error}`]);
  fields.push(['Created', when(doc.createdAt, o.now)]);
  const ended = doc.state === 'completed' || doc.state === 'compensated' || doc.state === 'failed';
  fields.push(['Updated', `${when(doc.updatedAt, o.now)}${ended ? `, ${duration(Date.parse(doc.updatedAt) - Date.parse(doc.createdAt))} after it started` : ''}`]);
  if (doc.deadlineAt !== null) fields.push(['Deadline', ended ? doc.deadlineAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : when(doc.deadlineAt, o.now)]);
  fields.push(['Input', JSON.stringify(doc.input) ?? 'null']);
  const columns: Column[] = [
    { header: 'STEP', shrink: true, min: 16 }, { header: 'STATE' }, { header: 'ATTEMPTS', align: 'right' }, { header: 'STARTED', align: 'right', drop: 2 },
    { header: 'FINISHED', align: 'right', drop: 1 }, { header: 'DURATION', align: 'right' }, { header: 'LAST ERROR', shrink: true, min: 10 },
  ];
  let out = `${renderFields(fields, o.width)}\n${renderTable(columns, stepRows(doc, def, o), o.width)}`;
  const timers = doc.timers ?? [];
  if (timers.length > 0) {
    const rows: Cell[][] = timers.map((t) => [t.kind, t.step ?? '', t.attempt === null ? '' : String(t.attempt), when(t.dueAt, o.now)]);
    out += `\n${renderTable([{ header: 'TIMER' }, { header: 'STEP', shrink: true }, { header: 'ATTEMPT', align: 'right' }, { header: 'DUE' }], rows, o.width)}`;
  }
  if (acts.length > 0) out += `\n${operatorActsTable(acts, o)}`;
  return out;
}
