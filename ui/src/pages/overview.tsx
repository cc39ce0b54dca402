/** The overview: instances by state, exact saga times p50/p99, lag and backlog, dead letters; refreshed every 5 s (saga times 10 s). */
import type { DurationDocument, DurationsDocument, StatsDocument } from '../../../engine/api/index.js';
import { get } from '../api.js';
import { countsByState, percentilePair, STATES } from '../figures.js';
import { dur, Note, StateBadge, Time } from '../parts/common.js';
import { usePolled, useReadyMark } from '../parts/hooks.js';
import { href } from '../router.js';

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
const pair = (p: { count: number; p50: number | null; p99: number | null }): string => percentilePair(p, dur);
const over = (n: number, state: string): string => (n === 0 ? `none ${state} yet` : `over all ${fmt(n)} ${state}`);

/** The saga-time cards of one group (everything, or a saga): finished, completed, compensated. */
function TimeCards({ d }: { d: DurationDocument }) {
  return (
    <div class="cards" aria-label="Saga time p50 / p99">
      <Card label="finished p50 / p99" value={pair(d)} note={over(d.count, 'finished')} />
      <Card label="completed p50 / p99" value={pair(d.completed)} note={over(d.completed.count, 'completed')} />
      <Card label="compensated p50 / p99" value={pair(d.compensated)} note={over(d.compensated.count, 'compensated')} />
    </div>
  );
}

/** The overview page. */
export function OverviewPage() {
  const stats = usePolled(() => get<StatsDocument>('/v1/stats'), 'stats', 5_000);
  // Exact over every instance started in the last 24 hours (the API's default window).
  const times = usePolled(() => get<DurationsDocument>('/v1/stats/durations'), 'times', 10_000);
  // Ready once the counts and the saga times are drawn: the bench times both.
  useReadyMark('overview', stats.data !== null && (times.data !== null || times.error !== null));
  const s = stats.data;
  const counts = s === null ? null : countsByState(s);
  const sagas = s === null ? [] : [...new Set(s.instances.map((r) => r.saga))];
  const sagaTime = (saga: string) => times.data?.sagas.find((x) => x.saga === saga);
  const now = Date.now();
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
          {times.error === null ? null : <Note kind="error">{times.error}</Note>}
          {times.data === null ? <p class="muted">Reading saga times…</p> : (
            <>
              <p class="muted" data-durations-since={times.data.since}>
                Start to end of the instances started since <Time iso={times.data.since} now={now} /> that completed or
                compensated, by nearest rank, as of <Time iso={times.data.computedAt} now={now} />.
              </p>
              <TimeCards d={times.data.overall} />
            </>
          )}
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
                  <thead><tr><th>Saga</th>{STATES.map((st) => <th><StateBadge state={st} /></th>)}<th>Saga time p50 / p99</th></tr></thead>
                  <tbody>
                    {sagas.map((saga) => {
                      const c = countsByState(s, saga);
                      return (
                        <tr data-saga={saga}>
                          <td><a href={href({ page: 'definition', name: saga, hash: null })}>{saga}</a></td>
                          {STATES.map((st) => <td><a href={href({ page: 'instances', query: { saga, state: st } })}>{fmt(c.byState[st] ?? 0)}</a></td>)}
                          <td class="saga-time">{times.data === null ? '…' : pair(sagaTime(saga) ?? { count: 0, p50: null, p99: null })}</td>
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
