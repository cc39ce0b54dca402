/** The overview: instances by state, saga times p50/p99, lag and backlog, dead letters; refreshed every 5 s. */
import type { InstanceSummaryDocument, StatsDocument } from '../../../engine/api/index.js';
import { get, qs } from '../api.js';
import { countsByState, percentile, sagaTimes, STATES } from '../figures.js';
import { dur, Note, StateBadge } from '../parts/common.js';
import { usePolled, useReadyMark } from '../parts/hooks.js';
import { href } from '../router.js';

/** How many of the latest finished instances the saga times are taken over. */
const SAMPLE = 500;

interface Times { readonly completed: number[]; readonly compensated: number[] }

function Card({ label, value, note, link }: { label: string; value: string; note?: string; link?: string }) {
  return (
    <div class="card">
      <span class="label">{label}</span>
      {link === undefined ? <span class="value">{value}</span> : <a class="value" href={link}>{value}</a>}
      {note === undefined ? null : <span class="muted small">{note}</span>}
    </div>
  );
}

const fmt = (n: number): string => n.toLocaleString('en');
const pc = (xs: readonly number[], p: number): string => {
  const v = percentile(xs, p);
  return v === null ? '–' : dur(v);
};

const over = (n: number, state: string): string => (n === 0 ? `no instance ${state} yet` : `over the latest ${fmt(n)} ${state}`);

/** The overview page. */
export function OverviewPage() {
  const stats = usePolled(() => get<StatsDocument>('/v1/stats'), 'stats', 5_000);
  const times = usePolled(async (): Promise<Times> => {
    const [a, b] = await Promise.all(['completed', 'compensated'].map((state) =>
      get<{ items: InstanceSummaryDocument[] }>(`/v1/instances${qs({ state, limit: SAMPLE })}`)));
    return { completed: sagaTimes(a?.items ?? []), compensated: sagaTimes(b?.items ?? []) };
  }, 'times', 10_000);
  useReadyMark('overview', stats.data !== null);
  const s = stats.data;
  const counts = s === null ? null : countsByState(s);
  const sagas = s === null ? [] : [...new Set(s.instances.map((r) => r.saga))];
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" tabIndex={-1}>Overview</h1>
      {stats.error === null ? null : <Note kind="error">{stats.error}</Note>}
      {s === null || counts === null ? null : (
        <>
          <div class="cards" aria-label="Instances">
            <Card label="Sagas started" value={fmt(counts.total)} note="instances in the database" link="#/instances" />
            {STATES.map((st) => <Card label={st} value={fmt(counts.byState[st] ?? 0)} link={href({ page: 'instances', query: { state: st } })} />)}
          </div>
          <h2>Saga time</h2>
          <div class="cards">
            <Card label="completed p50 / p99" value={times.data === null ? '…' : `${pc(times.data.completed, 50)} / ${pc(times.data.completed, 99)}`}
              note={times.data === null ? undefined : over(times.data.completed.length, 'completed')} />
            <Card label="compensated p50 / p99" value={times.data === null ? '…' : `${pc(times.data.compensated, 50)} / ${pc(times.data.compensated, 99)}`}
              note={times.data === null ? undefined : over(times.data.compensated.length, 'compensated')} />
          </div>
          <h2>Engine</h2>
          <div class="cards">
            <Card label="Consumer lag" value={s.consumerLag === null ? 'not measured' : fmt(s.consumerLag)} note="messages not yet processed" />
            <Card label="Outbox backlog" value={fmt(s.outboxBacklog)} note="commands not yet acknowledged" />
            <Card label="Timers pending" value={fmt(s.timersPending)} />
            <Card label="Dead letters" value={fmt(s.deadLetters)} link="#/dlq" note="not redriven" />
          </div>
          {sagas.length === 0 ? null : (
            <>
              <h2>By saga</h2>
              <div class="table-wrap">
                <table class="list" aria-label="Instances by saga and state">
                  <thead><tr><th>Saga</th>{STATES.map((st) => <th><StateBadge state={st} /></th>)}</tr></thead>
                  <tbody>
                    {sagas.map((saga) => {
                      const c = countsByState(s, saga);
                      return (
                        <tr data-saga={saga}>
                          <td><a href={href({ page: 'definition', name: saga, hash: null })}>{saga}</a></td>
                          {STATES.map((st) => <td><a href={href({ page: 'instances', query: { saga, state: st } })}>{fmt(c.byState[st] ?? 0)}</a></td>)}
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            </>
          )}
        </>
      )}
    </section>
  );
}
