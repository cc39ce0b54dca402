/** The instance list: filters in the URL, counts by state, pages by the API's cursor, refreshed every 2 s. */
import { useEffect, useState } from 'preact/hooks';
import type { DefinitionSummary, InstanceSummaryDocument, StatsDocument } from '../../../engine/api/index.js';
import { get, qs } from '../api.js';
import { countsByState, STATES } from '../figures.js';
import { Note, StateBadge, Time } from '../parts/common.js';
import { usePolled, useReadyMark } from '../parts/hooks.js';
import { href } from '../router.js';
import { SINCE, sinceParam, untilParam } from '../since.js';

interface Page { readonly items: InstanceSummaryDocument[]; readonly nextCursor: string | null }

const POLL_MS = 2_000;

/** The list page; `query` is the route's (saga, state, key, correlationId, since). */
export function InstancesPage({ query }: { query: Readonly<Record<string, string>> }) {
  const [form, setForm] = useState<Record<string, string>>({ ...query });
  // Cursors of the pages before this one; the current page's cursor is the last (none: first page).
  const [cursors, setCursors] = useState<string[]>([]);
  const queryKey = JSON.stringify(query);
  useEffect(() => {
    setForm({ ...query });
    setCursors([]);
  }, [queryKey]);
  const cursor = cursors.at(-1);

  const list = usePolled(() => get<Page>(`/v1/instances${qs({
    saga: query.saga, state: query.state, key: query.key, correlationId: query.correlationId,
    since: sinceParam(query.since, Date.now()), until: untilParam(query.until), limit: 50, cursor,
  })}`), `${queryKey}|${cursor ?? ''}`, POLL_MS);
  const stats = usePolled(() => get<StatsDocument>('/v1/stats'), 'stats', POLL_MS);
  const defs = usePolled(() => get<{ items: DefinitionSummary[] }>('/v1/definitions'), 'defs', 0);
  useReadyMark('instances', list.data !== null);

  const set = (k: string) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement | HTMLSelectElement).value });
  const apply = (e: Event) => {
    e.preventDefault();
    location.hash = href({ page: 'instances', query: form });
  };
  const counts = stats.data === null ? null : countsByState(stats.data, query.saga);
  const now = Date.now();
  const custom = form.since !== undefined && form.since !== '' && !SINCE.some(([k]) => k === form.since);

  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" tabIndex={-1}>Instances</h1>
      <form class="filters" onSubmit={apply} aria-label="Filter instances">
        <label class="field"><span>Saga</span>
          <select name="saga" value={form.saga ?? ''} onChange={set('saga')}>
            <option value="">all sagas</option>
            {(defs.data?.items ?? []).map((d) => <option value={d.name}>{d.name}</option>)}
            {query.saga !== undefined && !(defs.data?.items ?? []).some((d) => d.name === query.saga) ? <option value={query.saga}>{query.saga}</option> : null}
          </select>
        </label>
        <label class="field"><span>State</span>
          <select name="state" value={form.state ?? ''} onChange={set('state')}>
            <option value="">all states</option>
            {STATES.map((s) => <option value={s}>{s}</option>)}
          </select>
        </label>
        <label class="field"><span>Key</span><input name="key" value={form.key ?? ''} onInput={set('key')} placeholder="business key" /></label>
        <label class="field"><span>Correlation id</span><input name="correlationId" value={form.correlationId ?? ''} onInput={set('correlationId')} /></label>
        <label class="field"><span>Created</span>
          <select name="since" value={custom ? 'custom' : form.since ?? ''} onChange={(e) => {
            const v = (e.target as HTMLSelectElement).value;
            setForm({ ...form, since: v === 'custom' ? new Date(now - 3_600_000).toISOString().slice(0, 16) : v });
          }}>
            {SINCE.map(([k, label]) => <option value={k}>{label}</option>)}
            <option value="custom">since…</option>
          </select>
        </label>
        {custom ? (
          <label class="field"><span>Since (your time)</span>
            <input type="datetime-local" name="sinceAt" value={form.since} onInput={set('since')} />
          </label>
        ) : null}
        <label class="field"><span>Created until (your time)</span>
          <input type="datetime-local" name="until" value={form.until ?? ''} onInput={set('until')} />
        </label>
        <div class="buttons">
          <button type="submit" class="primary">Filter</button>
          <a class="button" href="#/instances">Clear</a>
        </div>
      </form>

      {counts === null ? null : (
        <ul class="counts" aria-label="Instances by state">
          <li><a href={href({ page: 'instances', query: { ...query, state: '' } })} aria-current={query.state === undefined ? 'true' : undefined}>
            <span class="n">{counts.total.toLocaleString('en')}</span> all</a></li>
          {STATES.map((s) => (
            <li><a href={href({ page: 'instances', query: { ...query, state: s } })} aria-current={query.state === s ? 'true' : undefined} data-state={s}>
              <span class="n">{(counts.byState[s] ?? 0).toLocaleString('en')}</span> <StateBadge state={s} /></a></li>
          ))}
        </ul>
      )}

      {list.error === null ? null : <Note kind="error">Could not load the list: {list.error}</Note>}
      {list.data === null ? (list.error === null ? <Note>Loading…</Note> : null) : list.data.items.length === 0 ? (
        <Note>No instance matches these filters.</Note>
      ) : (
        <div class="table-wrap">
          <table class="list" aria-label="Instances, newest first">
            <thead><tr><th>Instance</th><th class="wide">Saga</th><th>Key</th><th>State</th><th>Created</th><th class="wide">Updated</th></tr></thead>
            <tbody>
              {list.data.items.map((i) => (
                <tr data-id={i.id} key={i.id}>
                  <td><a class="mono" href={href({ page: 'instance', id: i.id })}>{i.id}</a></td>
                  <td class="wide">{i.saga}</td>
                  <td class="mono">{i.key ?? <span class="muted">–</span>}</td>
                  <td><StateBadge state={i.state} /></td>
                  <td><Time iso={i.createdAt} now={now} /></td>
                  <td class="wide"><Time iso={i.updatedAt} now={now} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages of the list">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors([])}>Newest</button>
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>← Newer</button>
        <span class="muted">page {cursors.length + 1}</span>
        <button type="button" disabled={list.data?.nextCursor == null}
          onClick={() => { const next = list.data?.nextCursor; if (next != null) setCursors([...cursors, next]); }}>Older →</button>
      </nav>
    </section>
  );
}
