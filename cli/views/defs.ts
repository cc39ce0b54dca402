/** Saga definitions: the loaded ones in a table, one in detail with its steps. */
import type { DefinitionDetail, DefinitionSummary, StepDetail } from '../../engine/api/documents.js';
import { renderFields, renderTable, type Cell } from '../render/table.js';
import { dslDuration } from '../render/time.js';
import type { ViewOptions } from './instances.js';

const ms = (v: number | null | undefined, none = '-'): string => (v === null || v === undefined ? none : dslDuration(v));

/** Pure: the definitions as a table. */
export function definitionListTable(items: readonly DefinitionSummary[], o: Pick<ViewOptions, 'width'>): string {
  const rows: Cell[][] = items.map((d) => [
    d.name, d.hash.slice(0, 12),
    d.steps.map((s) => (s.branches === undefined ? s.name : `${s.name}(${s.branches.map((b) => b.join(',')).join(' | ')})`)).join(' > '),
    d.trigger === null ? '' : `${d.trigger.subject} ${d.trigger.type}`, ms(d.timeout),
  ]);
  return renderTable([
    { header: 'NAME' }, { header: 'HASH' }, { header: 'STEPS', shrink: true, min: 16 }, { header: 'TRIGGER', shrink: true, min: 12 }, { header: 'DEADLINE', align: 'right' },
  ], rows, o.width);
}

function leafRow(s: StepDetail, indent: string): Cell[] {
  const retry = s.retry === undefined ? '' : s.retry.maxAttempts === null ? '∞' : String(s.retry.maxAttempts);
  const what = s.kind === 'wait' ? `wait ${s.subject ?? ''} ${s.type ?? ''}` : `${s.command?.subject ?? ''} ${s.command?.type ?? ''}`;
  const replies = s.reply === undefined ? '' : [
    s.reply.success.join(','), ...(s.reply.failure.length > 0 ? [`✗ ${s.reply.failure.join(',')}`] : []),
    ...(s.reply.retryable.length > 0 ? [`↻ ${s.reply.retryable.join(',')}`] : []),
  ].join(' ');
  const comp = s.compensation === undefined || s.compensation === null
    ? (s.pivot === true ? 'pivot' : s.afterPivot === true ? 'after pivot' : '')
    : `${s.compensation.command.type} (${s.compensation.retry.maxAttempts === null ? '∞' : s.compensation.retry.maxAttempts} attempts)`;
  return [`${indent}${s.name}`, what.trim(), replies, s.kind === 'wait' ? ms(s.timeout, 'deadline') : ms(s.timeout), retry, comp, s.when ?? ''];
}

/** Pure: one definition: trigger, key, deadline, schemas, and a row per step. */
export function definitionText(d: DefinitionDetail, o: Pick<ViewOptions, 'width' | 'style'>): string {
  const fields: [string, Cell][] = [
    ['Saga', { text: d.name, paint: o.style.bold }], ['Description', d.description || '-'], ['Hash', d.hash],
    ['Trigger', d.trigger === null ? 'none (started through the API or sagas.start)' : `${d.trigger.subject} ${d.trigger.type}`],
    ['Key', d.key ?? '-'], ['Deadline', ms(d.timeout, 'none')], ['Schemas', d.schemas.length === 0 ? '-' : d.schemas.join(', ')],
  ];
  const rows: Cell[][] = [];
  for (const s of d.steps) {
    if (s.kind === 'parallel') {
      rows.push([s.name, 'parallel', '', '', '', '', s.when ?? '']);
      (s.branches ?? []).forEach((b, i) => { for (const l of b) rows.push(leafRow(l, `  ${i + 1}: `)); });
    } else if (s.kind === 'forEach') {
      // The step, then what each element runs: the step's command, as `name[i]`.
      rows.push([s.name, `forEach ${s.items ?? ''} (${s.maxConcurrency ?? 1} at a time, at most ${s.maxItems ?? '?'})`, '', '', '', '', s.when ?? '']);
      // A group: each of its steps, as element i's `name[i].step`.
      if (s.steps !== undefined) for (const l of s.steps) rows.push(leafRow({ ...l, name: `${s.name}[i].${l.name}` }, '  '));
      else rows.push(leafRow({ ...s, name: `${s.name}[i]`, when: null }, '  '));
    } else {
      rows.push(leafRow(s, ''));
    }
  }
  const table = renderTable([
    { header: 'STEP', shrink: true, min: 12 }, { header: 'COMMAND', shrink: true, min: 12 }, { header: 'REPLIES', shrink: true, min: 12 },
    { header: 'TIMEOUT', align: 'right' }, { header: 'ATTEMPTS', align: 'right' }, { header: 'COMPENSATION', shrink: true, min: 12 }, { header: 'WHEN', shrink: true, min: 8 },
  ], rows, o.width);
  return `${renderFields(fields, o.width)}\n${table}`;
}
