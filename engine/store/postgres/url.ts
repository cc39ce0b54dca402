// Free of the pg driver: a SQLite sagad or sagactl tells a PostgreSQL URL from a file path,
// and redacts one, without loading it (open.ts loads the adapter only for a URL).

/** True for the URLs that choose the PostgreSQL store (`SAGA_DB`, `sagactl --db`). */
export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

/** The URL without its password, for log lines and error sentences. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}
