/** The sign-in page: the API token, kept in this tab's session storage only. */
import { useState } from 'preact/hooks';
import { ApiFailure, describe } from '../api.js';

/** Asks for the token and hands it to `onToken`, which checks it with the server. */
export function SignIn({ error, onToken }: { error: string | null; onToken: (token: string) => Promise<void> }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | null>(error);
  const [busy, setBusy] = useState(false);
  const submit = (e: Event) => {
    e.preventDefault();
    setBusy(true);
    onToken(token.trim()).catch((err: unknown) => {
      setBusy(false);
      setProblem(err instanceof ApiFailure && err.status === 401 ? 'The server did not accept this token.' : describe(err));
    });
  };
  return (
    <main id="main" class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">sagad console</h1>
        <p>This server asks for its API token (<code>SAGA_API_TOKEN</code>). It is kept in this browser tab only, until you close it or sign out.</p>
        <label class="field">
          <span>API token</span>
          <input type="password" name="token" autoComplete="current-password" required autoFocus value={token}
            onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        </label>
        {problem === null ? null : <p class="note error" role="alert">{problem}</p>}
        <button type="submit" class="primary" disabled={busy || token.trim() === ''}>{busy ? 'Checking…' : 'Sign in'}</button>
      </form>
    </main>
  );
}
