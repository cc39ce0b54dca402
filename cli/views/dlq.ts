/** Dead letters: the list, and one letter with its headers and raw message. */
import type { DeadLetterDocument, DeadLetterSummaryDocument } from '../../engine/api/documents.js';
import { shown } from '../render/escape.js';
import { renderFields, renderTable, type Cell } from '../render/table.js';
import { age, when } from '../render/time.js';
import type { ViewOptions } from './instances.js';

/** Pure: the dead letters as a table, newest first as given. */
export function deadLetterTable(items: readonly Omit<DeadLetterSummaryDocument, 'size' | 'preview'>[], o: ViewOptions): string {
  const rows: Cell[][] = items.map((l) => [
    l.id, l.subject, l.reason, age(l.receivedAt, o.now), String(l.deliveryCount), l.redrivenAt === null ? '' : `${age(l.redrivenAt, o.now)} ago`,
  ]);
  return renderTable([
    { header: 'ID', align: 'right' }, { header: 'SUBJECT', shrink: true, min: 12 }, { header: 'REASON', shrink: true, min: 16 },
    { header: 'AGE', align: 'right' }, { header: 'DELIVERIES', align: 'right', drop: 2 }, { header: 'REDRIVEN', drop: 1 },
  ], rows, o.width);
}

/**
 * Pure: one dead letter: why it is here, its headers, and the message as text (or base64 when it
 * is not UTF-8). Everything in it came from whoever published: its control characters are escaped.
 */
export function deadLetterText(l: DeadLetterDocument, o: ViewOptions): string {
  const fields: [string, Cell][] = [
    ['Dead letter', { text: l.id, paint: o.style.bold }], ['Subject', l.subject], ['Reason', { text: l.reason, paint: o.style.red }],
    ['Received', when(l.receivedAt, o.now)], ['Deliveries', String(l.deliveryCount)],
    ['Redriven', l.redrivenAt === null ? 'no' : `${when(l.redrivenAt, o.now)}${l.redrivenBy === null ? '' : ` by ${l.redrivenBy}`}`],
  ];
  const headers = Object.entries(l.headers);
  const headerText = headers.length === 0 ? '  (none)\n' : headers.map(([k, v]) => `  ${shown(k)}: ${shown(v)}\n`).join('');
  const size = Buffer.from(l.data, 'base64').length;
  const body = l.text === null ? `Message (${size} bytes, not UTF-8; base64):\n${l.data}\n` : `Message (${size} bytes):\n${shown(l.text)}${l.text.endsWith('\n') ? '' : '\n'}`;
  return `${renderFields(fields)}Headers:\n${headerText}${body}`;
}
