/** The loaded definitions, and one definition: its graph, YAML source and hash, and its instances per version. */
import type { DefinitionDetail, DefinitionSummary, VersionsDocument } from '../../../engine/api/index.js';
import type { DefinitionSourceDocument } from '../../../engine/api/routes-definition-source.js';
import { dslDuration } from '../../../cli/render/time.js';
import { get, qs } from '../api.js';
import { STATES } from '../figures.js';
import { Hash, Note, StateBadge, Time } from '../parts/common.js';
import { usePolled, useReadyMark } from '../parts/hooks.js';
import { useGraphView } from '../parts/lazy-graph.js';
import { href } from '../router.js';

/** Every loaded definition with its hash. */
export function DefinitionsPage() {
  const defs = usePolled(() => get<{ items: DefinitionSummary[] }>('/v1/definitions'), 'defs', 0);
  useReadyMark('definitions', defs.data !== null);
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" tabIndex={-1}>Definitions</h1>
      {defs.error === null ? null : <Note kind="error">{defs.error}</Note>}
      {defs.data === null ? null : (
        <div class="table-wrap">
          <table class="list" aria-label="Loaded definitions">
            <thead><tr><th>Saga</th><th>Description</th><th>Steps</th><th class="wide">Started by</th><th>Hash</th></tr></thead>
            <tbody>
              {defs.data.items.map((d) => (
                <tr data-saga={d.name}>
                  <td><a href={href({ page: 'definition', name: d.name, hash: null })}>{d.name}</a></td>
                  <td>{d.description}</td>
                  <td>{d.steps.length}</td>
                  <td class="wide">{d.trigger === null ? 'API or sagas.start' : <span class="mono">{d.trigger.type} on {d.trigger.subject}</span>}</td>
                  <td><Hash hash={d.hash} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** One definition (the current one, or the version `hash` that instances are pinned to). */
export function DefinitionPage({ name, hash }: { name: string; hash: string | null }) {
  const key = `${name}|${hash ?? ''}`;
  const base = `/v1/definitions/${encodeURIComponent(name)}`;
  const def = usePolled(() => get<DefinitionDetail>(`${base}${qs({ hash })}`), key, 0);
  const source = usePolled(() => get<DefinitionSourceDocument>(`${base}/source${qs({ hash })}`), key, 0);
  const current = usePolled(() => get<DefinitionDetail>(base).catch(() => null), name, 0);
  const versions = usePolled(() => get<VersionsDocument>(`${base}/versions`), name, 10_000);
  const GraphView = useGraphView();
  useReadyMark('definition', def.data !== null && GraphView !== null);
  const now = Date.now();
  const d = def.data;
  return (
    <section aria-labelledby="page-title">
      <p class="crumbs"><a href="#/definitions">Definitions</a></p>
      <h1 id="page-title" tabIndex={-1}>{name}</h1>
      {def.error === null ? null : <Note kind="error">{def.error}</Note>}
      {d === null ? null : (
        <>
          <p>{d.description}</p>
          <dl class="facts">
            <dt>Hash</dt><dd><code class="wrap">{d.hash}</code>{current.data !== null && current.data.hash !== d.hash ? <> (an older version; <a href={href({ page: 'definition', name, hash: null })}>the current one</a>)</> : null}</dd>
            <dt>Started by</dt><dd>{d.trigger === null ? 'the API or sagas.start.' + name : <span class="mono">{d.trigger.type} on {d.trigger.subject}</span>}</dd>
            <dt>Key</dt><dd class="mono">{d.key ?? '–'}</dd>
            <dt>Deadline</dt><dd>{d.timeout === null ? 'none' : dslDuration(d.timeout)}</dd>
          </dl>
          <h2>Graph</h2>
          {GraphView === null ? <Note>Drawing…</Note> : <GraphView def={d} />}
        </>
      )}
      <h2>Instances per version</h2>
      {versions.error === null ? null : <Note kind="error">{versions.error}</Note>}
      {versions.data === null ? null : versions.data.items.every((v) => v.instances === 0) ? <Note>No instance of {name} in the database.</Note> : (
        <div class="table-wrap">
          <table class="list" aria-label="Instances per definition version">
            <thead>
              <tr>
                <th>Version (hash)</th><th>Instances</th>
                {STATES.map((st) => <th class="wide"><StateBadge state={st} /></th>)}
                <th class="wide">First start</th><th>Last start</th>
              </tr>
            </thead>
            <tbody>
              {versions.data.items.map((v) => (
                <tr data-hash={v.hash}>
                  <td><a href={href({ page: 'definition', name, hash: v.hash })}><Hash hash={v.hash} /></a>{v.current ? ' (current)' : ''}</td>
                  <td class="count">{v.instances.toLocaleString('en')}</td>
                  {STATES.map((st) => (
                    <td class="wide" data-state={st}>
                      {v.states[st] === 0 ? <span class="muted">0</span> : v.states[st].toLocaleString('en')}
                    </td>
                  ))}
                  <td class="wide"><Time iso={v.firstStartedAt} now={now} /></td>
                  <td><Time iso={v.lastStartedAt} now={now} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Source</h2>
      {source.error === null ? null : <Note kind="error">{source.error}</Note>}
      {source.data === null ? null : (
        <>
          <p class="muted">As stored with hash <Hash hash={source.data.hash} />; comments and the original key order are not kept.
            {source.data.schemaFiles.length === 0 ? '' : ` Schema files: ${source.data.schemaFiles.join(', ')}.`}</p>
          <pre class="yaml" tabIndex={0} aria-label="YAML source">{source.data.yaml}</pre>
        </>
      )}
    </section>
  );
}
