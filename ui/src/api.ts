/** The console's HTTP client: the API on this origin, with the bearer token kept in session storage. */

const TOKEN_KEY = 'sagad.token';

/** A non-2xx answer of the API, with its stable `SAGA_ERR_*` code. */
export class ApiFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiFailure';
  }
}

/** The token of this tab's session, or null (signed out, or a server that asks for none). */
export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Keeps the token for this tab only: session storage ends with the tab, unlike local storage. */
export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** Listeners told when the API refuses the token (401) or an action (403). */
export const authEvents = new EventTarget();

async function call<T>(method: string, path: string, body?: unknown, token: string | null = storedToken()): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body), cache: 'no-store' });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null; // not JSON (a proxy's error page): the status says enough
  }
  if (!res.ok) {
    const e = (json ?? {}) as { code?: unknown; message?: unknown };
    const failure = new ApiFailure(res.status, typeof e.code === 'string' ? e.code : `HTTP_${res.status}`,
      typeof e.message === 'string' ? e.message : `${method} ${path} answered ${res.status}`);
    if (res.status === 401) authEvents.dispatchEvent(new Event('unauthorized'));
    if (res.status === 403) authEvents.dispatchEvent(new Event('forbidden'));
    throw failure;
  }
  return json as T;
}

/** GET a JSON document. */
export const get = <T>(path: string, token?: string | null): Promise<T> => call<T>('GET', path, undefined, token);
/** POST a JSON body (or none). */
export const post = <T>(path: string, body?: unknown): Promise<T> => call<T>('POST', path, body);
/** DELETE; resolves with nothing. */
export const del = (path: string): Promise<void> => call<void>('DELETE', path);

/** A query string of the defined, non-empty values (`?a=1&b=x`), or ''. */
export function qs(params: Readonly<Record<string, string | number | null | undefined>>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
  const out = s.toString();
  return out === '' ? '' : `?${out}`;
}

/** A readable sentence for any failure: the API's message, or the network's. */
export function describe(err: unknown): string {
  if (err instanceof ApiFailure) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}
