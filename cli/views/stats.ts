/** `stats`: instances by saga and state, then the engine's backlog gauges. */
import type { StatsDocument } from '../../engine/api/documents.js';
import { InstanceStatus } from '../../engine/core/index.js';
import type { Style } from '../render/style.js';
import { renderFields, renderTable, type Cell, type Column } from '../render/table.js';

const states = Object.values(InstanceStatus);

/** Pure: one row per saga, one column per state, and a total row; then the gauges. */
export function statsText(s: StatsDocument, width: number, style: Style): string {
  const sagas = [...new Set(s.instances.map((r) => r.saga))].sort();
  const count = (saga: string | null, state: string) =>
    s.instances.filter((r) => (saga === null || r.saga === saga) && r.state === state).reduce((a, r) => a + r.count, 0);
  const columns: Column[] = [
    { header: 'SAGA', shrink: true, min: 10 }, ...states.map((st): Column => ({ header: st.toUpperCase(), align: 'right' })), { header: 'TOTAL', align: 'right' },
  ];
  const row = (saga: string | null): Cell[] => {
    const counts = states.map((st) => count(saga, st));
    const cells: Cell[] = counts.map((n, i) => {
      const st = states[i] ?? '';
      // Non-zero counts that want attention stand out.
      if (n > 0 && st === 'failed') return { text: String(n), paint: style.red };
      if (n > 0 && st === 'compensating') return { text: String(n), paint: style.magenta };
      return String(n);
    });
    return [saga === null ? { text: 'total', paint: style.bold } : saga, ...cells, String(counts.reduce((a, b) => a + b, 0))];
  };
  const rows = sagas.length === 0 ? [] : [...sagas.map(row), ...(sagas.length > 1 ? [row(null)] : [])];
  const table = sagas.length === 0 ? 'No instances.\n' : renderTable(columns, rows, width);
  const fields: [string, Cell][] = [
    ['Timers pending', String(s.timersPending)],
    ['Outbox backlog', String(s.outboxBacklog)],
    ['Dead letters', { text: String(s.deadLetters), paint: s.deadLetters > 0 ? style.red : undefined }],
    ['Consumer lag', s.consumerLag === null ? 'unknown (read offline)' : String(s.consumerLag)],
  ];
  return `${table}\n${renderFields(fields)}`;
}
