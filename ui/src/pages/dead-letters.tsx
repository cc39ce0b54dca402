/** The dead-letter queue: the list (paged), and one letter with its reason, headers and raw body; redrive and purge. */
import { useContext, useState } from 'preact/hooks';
import type { DeadLetterDocument } from '../../../engine/api/index.js';
import { ApiFailure, del, get, post, qs } from '../api.js';
import { Confirm } from '../parts/confirm.js';
import { Note, Time } from '../parts/common.js';
import { usePolled, useReadyMark } from '../parts/hooks.js';
import { href } from '../router.js';
import { SessionContext } from '../session.js';

interface Page { readonly items: DeadLetterDocument[]; readonly nextCursor: string | null }

/** The list, newest first, refreshed every 5 s. */
export function DeadLettersPage() {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const list = usePolled(() => get<Page>(`/v1/dlq${qs({ limit: 50, cursor })}`), cursor ?? '', 5_000);
  useReadyMark('dlq', list.data !== null);
  const now = Date.now();
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" tabIndex={-1}>Dead letters</h1>
      <p class="muted">Messages sagad could not process: not an envelope, invalid against their schema, or failing after their last delivery.</p>
      {list.error === null ? null : <Note kind="error">{list.error}</Note>}
      {list.data === null ? null : list.data.items.length === 0 ? <Note>The dead-letter queue is empty.</Note> : (
        <div class="table-wrap">
          <table class="list" aria-label="Dead letters">
            <thead><tr><th>Letter</th><th>Subject</th><th>Reason</th><th class="wide">Received</th><th class="wide">Deliveries</th><th>Redriven</th></tr></thead>
            <tbody>
              {list.data.items.map((l) => (
                <tr data-id={l.id}>
                  <td><a class="mono" href={href({ page: 'letter', id: l.id })}>{l.id}</a></td>
                  <td class="mono">{l.subject}</td>
                  <td class="error-text">{l.reason}</td>
                  <td class="wide"><Time iso={l.receivedAt} now={now} /></td>
                  <td class="wide">{l.deliveryCount}</td>
                  <td>{l.redrivenAt === null ? 'no' : <Time iso={l.redrivenAt} now={now} />}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages of the list">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>← Newer</button>
        <span class="muted">page {cursors.length + 1}</span>
        <button type="button" disabled={list.data?.nextCursor == null}
          onClick={() => { const next = list.data?.nextCursor; if (next != null) setCursors([...cursors, next]); }}>Older →</button>
      </nav>
    </section>
  );
}

/** One letter; redrive publishes its bytes again on its subject, purge deletes it. */
export function DeadLetterPage({ id }: { id: string }) {
  const session = useContext(SessionContext);
  const [action, setAction] = useState<'redrive' | 'purge' | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const path = `/v1/dlq/${encodeURIComponent(id)}`;
  const letter = usePolled(() => get<DeadLetterDocument>(path), id, 0);
  useReadyMark('letter', letter.data !== null || letter.error !== null);
  const guard = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 403) session.demote();
      throw err;
    }
  };
  const now = Date.now();
  const l = letter.data;
  return (
    <section aria-labelledby="page-title">
      <p class="crumbs"><a href="#/dlq">Dead letters</a></p>
      <h1 id="page-title" tabIndex={-1}>Dead letter <span class="mono">{id}</span></h1>
      {done === null ? null : <Note>{done}</Note>}
      {letter.error === null || done !== null ? null : <Note kind="error">{letter.error}</Note>}
      {l === null || done?.startsWith('Purged') === true ? null : (
        <>
          <dl class="facts">
            <dt>Subject</dt><dd class="mono">{l.subject}</dd>
            <dt>Reason</dt><dd class="error-text">{l.reason}</dd>
            <dt>Received</dt><dd><Time iso={l.receivedAt} now={now} /></dd>
            <dt>Deliveries</dt><dd>{l.deliveryCount}</dd>
            <dt>Redriven</dt><dd>{l.redrivenAt === null ? 'no' : <><Time iso={l.redrivenAt} now={now} />{l.redrivenBy === null ? null : <> by <span class="mono" data-redriven-by>{l.redrivenBy}</span></>}</>}</dd>
          </dl>
          {session.access === 'operate' ? (
            <div class="actions">
              <button type="button" class="primary" onClick={() => setAction('redrive')}>Redrive…</button>
              <button type="button" class="danger" onClick={() => setAction('purge')}>Purge…</button>
            </div>
          ) : null}
          <h2>Headers</h2>
          {Object.keys(l.headers).length === 0 ? <Note>No headers.</Note> : (
            <table class="list kv" aria-label="Headers">
              <tbody>{Object.entries(l.headers).map(([k, v]) => <tr><th scope="row" class="mono">{k}</th><td class="mono">{v}</td></tr>)}</tbody>
            </table>
          )}
          <h2>Body</h2>
          {l.text === null ? <p class="muted">Not UTF-8 text; base64:</p> : null}
          <pre class="json" tabIndex={0} aria-label="Raw body">{l.text ?? l.data}</pre>
        </>
      )}
      {action === 'redrive' ? (
        <Confirm title="Redrive this letter?" confirmLabel="Redrive" reasonLabel="Reason (optional; logged with your name)" reasonOptional
          message={`Its bytes are published again, unchanged, on ${l?.subject ?? 'its subject'}.`}
          onConfirm={(reason) => guard(async () => {
            await post(`${path}/redrive`, reason === '' ? {} : { reason });
            setDone('Redriven: the message was published again.');
            letter.reload();
          })} onClose={() => setAction(null)} />
      ) : null}
      {action === 'purge' ? (
        <Confirm title="Purge this letter?" confirmLabel="Purge" reasonLabel="Reason (optional; logged with your name)" reasonOptional
          message="The letter is deleted for good; its message is not published." onConfirm={(reason) => guard(async () => {
            await del(`${path}${qs({ reason })}`);
            setDone('Purged: the letter is deleted.');
          })} onClose={() => setAction(null)} />
      ) : null}
    </section>
  );
}
