// Free of the pg driver: a SQLite sagad or sagactl tells a PostgreSQL URL from a file path,
// and redacts one, without loading it (open.ts loads the adapter only for a URL).

/** True for the URLs that choose the PostgreSQL store (`SAGA_DB`, `sagactl --db`). */
export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

// The query parameters that hold a secret: the driver takes `?password=` as the password, as
// libpq does, and `sslpassword` is the passphrase of the client key.
const SECRET_PARAMS = new Set(['password', 'sslpassword']);

/** A parameter's name as the driver reads it (URLSearchParams: `+` a space, `%xx` decoded). */
function paramName(raw: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' ')).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

/** The query (without its `?`) with the values of the secret parameters replaced by `***`, the rest as it was. */
function redactQuery(query: string): string {
  return query.split('&').map((p) => {
    const eq = p.indexOf('=');
    if (eq === -1) return p;
    const name = p.slice(0, eq);
    return SECRET_PARAMS.has(paramName(name)) ? `${name}=***` : p;
  }).join('&');
}

/** The URL without its password (in the user part or a `password` parameter), for log lines and error sentences. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    if (u.search.length > 1) u.search = redactQuery(u.search.slice(1));
    return u.toString();
  } catch {
    const masked = url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
    const q = masked.indexOf('?');
    if (q === -1) return masked;
    const hash = masked.indexOf('#', q);
    const end = hash === -1 ? masked.length : hash;
    return `${masked.slice(0, q + 1)}${redactQuery(masked.slice(q + 1, end))}${masked.slice(end)}`;
  }
}
