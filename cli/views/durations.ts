/** `stats --times`: saga time p50/p99 per saga and overall, finished instances together and per state. */
import type { DurationsDocument } from '../../engine/api/documents.js';
import { duration } from '../render/time.js';
import type { Style } from '../render/style.js';
import { renderTable, type Cell, type Column } from '../render/table.js';

interface Group { readonly count: number; readonly p50: number | null; readonly p99: number | null }

/** Pure: `p50 / p99 (n)`, or a dash when no instance counted. */
export function timesCell(g: Group): string {
  return g.count === 0 || g.p50 === null || g.p99 === null ? '-' : `${duration(g.p50)} / ${duration(g.p99)} (${g.count})`;
}

/** Pure: one row per saga and a total row (of every saga's instances, not of the rows above). */
export function durationsText(d: DurationsDocument, width: number, style: Style): string {
  const head = `Saga time p50 / p99 (count), start to end, of the instances started since ${d.since} that finished (as of ${d.computedAt}):\n`;
  if (d.overall.count === 0) return `${head}No instance finished.\n`;
  const columns: Column[] = [
    { header: 'SAGA', shrink: true, min: 10 }, { header: 'FINISHED', align: 'right' }, { header: 'COMPLETED', align: 'right' }, { header: 'COMPENSATED', align: 'right' },
  ];
  const row = (name: Cell, g: Group & { completed: Group; compensated: Group }): Cell[] => [name, timesCell(g), timesCell(g.completed), timesCell(g.compensated)];
  const rows = [...d.sagas.map((s) => row(s.saga, s)), ...(d.sagas.length > 1 ? [row({ text: 'all', paint: style.bold }, d.overall)] : [])];
  return head + renderTable(columns, rows, width);
}
