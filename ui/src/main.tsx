/** The console's entry: sign-in, the header and its navigation, and the page of the current hash route. */
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { assertNever } from '../../engine/core/assert-never.js';
import type { WhoamiDocument } from '../../engine/api/routes-whoami.js';
import { authEvents, describe, get, storedToken, storeToken, ApiFailure } from './api.js';
import { DefinitionPage, DefinitionsPage } from './pages/definitions.js';
import { DeadLetterPage, DeadLettersPage } from './pages/dead-letters.js';
import { InstancePage } from './pages/instance.js';
import { InstancesPage } from './pages/instances.js';
import { OverviewPage } from './pages/overview.js';
import { SignIn } from './pages/sign-in.js';
import { parseRoute, type Route } from './router.js';
import { SessionContext, type Session } from './session.js';

// `unknown`: the pages load at once, in parallel with /v1/whoami, which only decides whether
// actions show; a 401 from any call brings the sign-in page. Saves a round trip per page load.
type Auth = { kind: 'in'; who: WhoamiDocument | null } | { kind: 'signed-out'; error: string | null };

const nav: readonly { label: string; hash: string; pages: readonly Route['page'][] }[] = [
  { label: 'Overview', hash: '#/', pages: ['overview'] },
  { label: 'Instances', hash: '#/instances', pages: ['instances', 'instance'] },
  { label: 'Definitions', hash: '#/definitions', pages: ['definitions', 'definition'] },
  { label: 'Dead letters', hash: '#/dlq', pages: ['dlq', 'letter'] },
];

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview': return <OverviewPage />;
    case 'instances': return <InstancesPage query={route.query} />;
    case 'instance': return <InstancePage id={route.id} />;
    case 'definitions': return <DefinitionsPage />;
    case 'definition': return <DefinitionPage name={route.name} hash={route.hash} />;
    case 'dlq': return <DeadLettersPage />;
    case 'letter': return <DeadLetterPage id={route.id} />;
    case 'not-found': return <p class="note error" role="alert">There is no page {route.path}. <a href="#/">Go to the overview</a>.</p>;
    default: return assertNever(route);
  }
}

function App() {
  const [auth, setAuth] = useState<Auth>({ kind: 'in', who: null });
  const [route, setRoute] = useState<Route>(() => parseRoute(location.hash));
  const [readOnly, setReadOnly] = useState(false);

  // `keep`: a token just typed is stored before the pages mount, so their first calls carry it.
  const check = (token: string | null, keep = false): Promise<void> =>
    get<WhoamiDocument>('/v1/whoami', token).then((who) => {
      if (keep) storeToken(token);
      setAuth({ kind: 'in', who });
      setReadOnly(who.access === 'read');
    });

  useEffect(() => {
    check(storedToken()).catch((err: unknown) => {
      // A 401 also went out as an event (and signs out); any other failure is shown at sign-in.
      if (!(err instanceof ApiFailure && err.status === 401)) setAuth({ kind: 'signed-out', error: describe(err) });
    });
    const onHash = () => setRoute(parseRoute(location.hash));
    const onUnauthorized = () => {
      const had = storedToken() !== null;
      storeToken(null);
      setAuth({ kind: 'signed-out', error: had ? 'The server no longer accepts this token; sign in again.' : null });
    };
    const onForbidden = () => setReadOnly(true);
    addEventListener('hashchange', onHash);
    authEvents.addEventListener('unauthorized', onUnauthorized);
    authEvents.addEventListener('forbidden', onForbidden);
    return () => {
      removeEventListener('hashchange', onHash);
      authEvents.removeEventListener('unauthorized', onUnauthorized);
      authEvents.removeEventListener('forbidden', onForbidden);
    };
  }, []);

  // Move focus to the new page's heading, as a page load would, so keyboard and screen reader users follow.
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus({ preventScroll: true });
  }, [route]);

  const known = auth.kind === 'in' && auth.who !== null;
  const session: Session = useMemo(() => ({ access: readOnly || !known ? 'read' : 'operate', demote: () => setReadOnly(true) }), [readOnly, known]);

  if (auth.kind === 'signed-out') {
    return <SignIn error={auth.error} onToken={(token) => check(token, true)} />;
  }
  const signOut = () => {
    storeToken(null);
    setAuth({ kind: 'signed-out', error: null });
  };
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
      <header class="top">
        <a class="brand" href="#/">sagad</a>
        <nav aria-label="Pages">
          {nav.map((n) => <a href={n.hash} aria-current={n.pages.includes(route.page) ? 'page' : undefined}>{n.label}</a>)}
        </nav>
        <span class="who">
          {readOnly ? <span class="badge ro" title="This token may read but not act">read-only</span> : null}
          {auth.who?.tokenRequired === true ? <button type="button" class="link" onClick={signOut}>Sign out</button> : null}
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Page key={`${route.page}`} route={route} />
      </main>
    </SessionContext.Provider>
  );
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
