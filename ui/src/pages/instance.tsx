/** One instance: its facts, the "why" paragraph of `sagactl why`, the timeline, its graph with each step's state, timers, JSON, and cancel / retry. */
import { useContext, useRef, useState } from 'preact/hooks';
import type { DefinitionDetail, HistoryEntryDocument, InstanceDocument } from '../../../engine/api/index.js';
import { explain } from '../../../cli/why.js';
import { get, post, ApiFailure } from '../api.js';
import { Confirm } from '../parts/confirm.js';
import { Fold, Hash, Json, Note, StateBadge, Time } from '../parts/common.js';
import { usePolled, useReadyMark } from '../parts/hooks.js';
import { useGraphView } from '../parts/lazy-graph.js';
import { TimelineView } from '../parts/timeline-view.js';
import { href } from '../router.js';
import { SessionContext } from '../session.js';
import { buildTimeline, stepOutputs } from '../timeline.js';

interface Loaded {
  readonly doc: InstanceDocument;
  readonly history: HistoryEntryDocument[];
  /** The definition the instance is pinned to; null when it cannot be read (the why paragraph says so). */
  readonly def: DefinitionDetail | null;
}

// A definition never changes under its hash: fetched once per page load, not on every poll.
const definitions = new Map<string, Promise<DefinitionDetail | null>>();
function definitionOf(saga: string, hash: string): Promise<DefinitionDetail | null> {
  let p = definitions.get(hash);
  if (p === undefined) {
    p = get<DefinitionDetail>(`/v1/definitions/${encodeURIComponent(saga)}?hash=${encodeURIComponent(hash)}`).catch(() => null);
    definitions.set(hash, p);
  }
  return p;
}

/**
 * The instance, its journal and its definition; the definition is asked for as soon as the
 * instance names it, while the journal is still on its way. The journal is append-only: a poll
 * asks only for the entries after those it has (`known`), not for the whole journal again.
 */
async function loadInstance(path: string, known: HistoryEntryDocument[]): Promise<Loaded> {
  const last = known.at(-1)?.seq;
  const historyP = get<{ items: HistoryEntryDocument[] }>(last === undefined ? `${path}/history` : `${path}/history?after=${last}`);
  const doc = await get<InstanceDocument>(path);
  const [history, def] = await Promise.all([historyP, definitionOf(doc.saga, doc.definitionHash)]);
  return { doc, history: history.items.length === 0 ? known : [...known, ...history.items], def };
}

type Action = 'cancel' | 'retry';

const POLL_MS = 1_500;

/** The instance page; polls while it is shown, so a running saga is followed live. */
export function InstancePage({ id }: { id: string }) {
  const session = useContext(SessionContext);
  const [action, setAction] = useState<Action | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const path = `/v1/instances/${encodeURIComponent(id)}`;
  // The journal read so far, of this instance: each poll asks only for what came after it.
  const journal = useRef<{ id: string; items: HistoryEntryDocument[] }>({ id: '', items: [] });
  const inst = usePolled(async () => {
    const loaded = await loadInstance(path, journal.current.id === id ? journal.current.items : []);
    journal.current = { id, items: loaded.history };
    return loaded;
  }, id, POLL_MS);
  useReadyMark('instance', inst.data !== null);
  const GraphView = useGraphView();

  if (inst.data === null) {
    return (
      <section>
        <h1 tabIndex={-1}>Instance <span class="mono">{id}</span></h1>
        {inst.error === null ? <Note>Loading…</Note> : <Note kind="error">{inst.error}</Note>}
      </section>
    );
  }
  const { doc, history, def } = inst.data;
  const now = Date.now();
  const why = explain({ instance: doc, definition: def ?? undefined, history, now });
  const tl = buildTimeline(history, now);
  const canAct = session.access === 'operate';
  const act = async (what: Action, reason: string) => {
    try {
      const after = await post<InstanceDocument>(`${path}/${what}`, { reason });
      setDone(`${what === 'cancel' ? 'Cancelled' : 'Retried'}: the instance is now ${after.state}.`);
      inst.reload();
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 403) session.demote();
      throw err;
    }
  };

  return (
    <section aria-labelledby="page-title">
      <p class="crumbs"><a href="#/instances">Instances</a> / {doc.saga}</p>
      <h1 id="page-title" tabIndex={-1}>Instance <span class="mono">{doc.id}</span> <StateBadge state={doc.state} /></h1>
      <dl class="facts">
        <dt>Saga</dt><dd><a href={href({ page: 'definition', name: doc.saga, hash: doc.definitionHash })}>{doc.saga}</a> <Hash hash={doc.definitionHash} /></dd>
        <dt>Key</dt><dd class="mono">{doc.key ?? '–'}</dd>
        <dt>Correlation id</dt><dd class="mono">{doc.correlationId}</dd>
        <dt>Started</dt><dd><Time iso={doc.createdAt} now={now} /></dd>
        <dt>Updated</dt><dd><Time iso={doc.updatedAt} now={now} /></dd>
        {doc.state === 'completed' || doc.state === 'compensated' ? null : <><dt>Deadline</dt><dd><Time iso={doc.deadlineAt} now={now} /></dd></>}
        {doc.reason === undefined ? null : <><dt>Reason</dt><dd>{doc.reason}</dd></>}
      </dl>

      {canAct && (doc.state === 'running' || doc.state === 'failed') ? (
        <div class="actions">
          {doc.state === 'running' ? <button type="button" class="danger" onClick={() => setAction('cancel')}>Cancel…</button> : null}
          {doc.state === 'failed' ? <button type="button" class="primary" onClick={() => setAction('retry')}>Retry…</button> : null}
        </div>
      ) : null}
      {done === null ? null : <Note>{done}</Note>}
      {inst.error === null ? null : <Note kind="error">Could not refresh: {inst.error}</Note>}
      {action === 'cancel' ? (
        <Confirm title="Cancel this instance?" confirmLabel="Cancel instance" reasonLabel="Reason (kept in the journal)"
          message="The saga stops and its done steps are compensated, latest first. This cannot be undone."
          onConfirm={(reason) => act('cancel', reason)} onClose={() => setAction(null)} />
      ) : null}
      {action === 'retry' ? (
        <Confirm title="Retry this instance?" confirmLabel="Retry" reasonLabel="Reason"
          message={`It resumes ${doc.failure === undefined ? 'its work' : `at step ${doc.failure.step}`}: the failed step or compensation is sent again.`}
          onConfirm={(reason) => act('retry', reason)} onClose={() => setAction(null)} />
      ) : null}

      <h2>Why</h2>
      <p class="why" data-waiting-for={why.waitingFor}>{why.text}</p>

      <h2>Timeline</h2>
      <TimelineView tl={tl} />

      <h2>Graph</h2>
      {def === null ? <Note>The definition this instance is pinned to cannot be read.</Note>
        : GraphView === null ? <Note>Drawing…</Note> : <GraphView def={def} steps={doc.steps} />}

      <h2>Steps</h2>
      <div class="table-wrap">
        <table class="list" aria-label="Steps">
          <thead><tr><th>Step</th><th>State</th><th>Attempts</th><th class="wide">Started</th><th class="wide">Finished</th><th>Compensation</th><th>Last error</th></tr></thead>
          <tbody>
            {doc.steps.map((s) => (
              <tr data-step={s.name}>
                <td>{s.name}</td>
                <td><StateBadge state={s.state} /></td>
                <td>{s.attempts}</td>
                <td class="wide"><Time iso={s.startedAt} now={now} /></td>
                <td class="wide"><Time iso={s.finishedAt} now={now} /></td>
                <td>{s.compensation === null ? <span class="muted">–</span> : <><StateBadge state={s.compensation.state} /> ×{s.compensation.attempts}</>}</td>
                <td class="error-text">{s.compensation?.lastError ?? s.lastError ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <h2>Pending timers</h2>
      {(doc.timers ?? []).length === 0 ? <Note>No timer is pending.</Note> : (
        <ul class="timers">
          {(doc.timers ?? []).map((t) => (
            <li><strong>{t.kind.replace(/_/g, ' ')}</strong>{t.step === null ? '' : ` of ${t.step}`}{t.attempt === null ? '' : `, attempt ${t.attempt}`}: <Time iso={t.dueAt} now={now} /></li>
          ))}
        </ul>
      )}

      <h2>Data</h2>
      <Fold title="Input"><Json value={doc.input} label="Input as JSON" /></Fold>
      <Fold title="Step outputs"><Json value={stepOutputs(history)} label="Step outputs as JSON" /></Fold>
      <Fold title={`History (${history.length} events)`}><Json value={history} label="History as JSON" /></Fold>
    </section>
  );
}
