import { CliError, usageError } from './errors.js';

/** Where sagactl talks to when neither --server nor SAGA_SERVER says otherwise. */
export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

const pointElsewhere = 'point sagactl elsewhere with --server URL or SAGA_SERVER=URL, or read a database offline with --db FILE (or --db postgres://...)';

/** An error answer of the API: `{statusCode, code, error, message}`. */
export interface ApiFailure {
  readonly statusCode: number;
  readonly code: string;
  readonly message: string;
  /** Every problem, when the answer lists them (a refused definitions reload). */
  readonly errors?: readonly string[];
}

/** Thrown for an API error answer; commands turn it into a sentence and a hint. */
export class ApiCallError extends CliError {
  constructor(readonly failure: ApiFailure, message: string, hint?: string) {
    super(message, hint);
  }
}

/** The server could not be reached or did not answer: nothing else will work either. */
export class UnreachableError extends CliError {}

const networkReasons: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the connection closed unexpectedly',
};

/** The cause of a failed fetch in a few words: the socket's error code, else the innermost message. */
function networkReason(err: unknown): string {
  let e: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return networkReasons[code] ?? code;
    message = e.message;
    e = (e as { errors?: unknown[] }).errors?.[0] ?? e.cause;
  }
  return message;
}

/** Pure: the server URL to use, checked: http or https, without a trailing slash. */
export function serverUrl(given: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  const raw = given ?? (env.SAGA_SERVER !== undefined && env.SAGA_SERVER !== '' ? env.SAGA_SERVER : DEFAULT_SERVER);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`${JSON.stringify(raw)} is not a server URL`, 'write it like http://127.0.0.1:8080 (--server or SAGA_SERVER)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`the server URL ${raw} is not http or https`, 'write it like http://127.0.0.1:8080 (--server or SAGA_SERVER)');
  }
  return raw.replace(/\/+$/, '');
}

/** A small JSON client of the sagad HTTP API: every failure becomes a CliError naming the server. */
export class ApiClient {
  constructor(readonly server: string, private readonly token: string | undefined, private readonly timeoutMs = 15_000) {}

  /** GET a JSON document; `query` values left undefined are not sent. */
  get<T>(path: string, query: Readonly<Record<string, string | number | undefined>> = {}): Promise<T> {
    const q = Object.entries(query).filter((e): e is [string, string | number] => e[1] !== undefined);
    const search = q.length === 0 ? '' : `?${new URLSearchParams(q.map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
    return this.call<T>('GET', `${path}${search}`).then((r) => r.body);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body).then((r) => r.body);
  }

  /** POST, also giving the status (a start answers 201 when new, 200 when it existed). */
  postWithStatus<T>(path: string, body?: unknown): Promise<{ status: number; body: T }> {
    return this.call<T>('POST', path, body);
  }

  delete(path: string): Promise<void> {
    return this.call('DELETE', path).then(() => undefined);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token !== undefined && this.token !== '') headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.server}${path}`, {
        method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
        throw new UnreachableError(`sagad at ${this.server} did not answer within ${this.timeoutMs / 1000} s`, `check that it is healthy (curl ${this.server}/healthz), or ${pointElsewhere}`);
      }
      throw new UnreachableError(`cannot reach sagad at ${this.server} (${networkReason(err)})`, `is sagad running there? Start it with npm start, or ${pointElsewhere}`);
    }
    const text = await res.text().catch(() => '');
    if (res.ok) {
      if (text === '') return { status: res.status, body: undefined as T };
      try {
        return { status: res.status, body: JSON.parse(text) as T };
      } catch {
        throw new CliError(`${this.server} answered ${method} ${path} with something that is not JSON`, `is ${this.server} really sagad? ${pointElsewhere}`);
      }
    }
    throw this.failure(res.status, text, method, path);
  }

  private failure(status: number, text: string, method: string, path: string): CliError {
    let body: Partial<ApiFailure> & { errors?: unknown } = {};
    try {
      body = JSON.parse(text) as Partial<ApiFailure>;
    } catch {
      // not an API error body: described by its status below
    }
    const failure: ApiFailure = {
      statusCode: status, code: typeof body.code === 'string' ? body.code : `HTTP_${status}`,
      message: typeof body.message === 'string' ? body.message : `${method} ${path} answered ${status}`,
      ...(Array.isArray(body.errors) ? { errors: body.errors.map(String) } : {}),
    };
    switch (failure.code) {
      case 'SAGA_ERR_UNAUTHORIZED':
        return new ApiCallError(failure, `sagad at ${this.server} refused the request: ${failure.message}`, 'pass the API token with --token TOKEN or SAGA_API_TOKEN=TOKEN');
      case 'SAGA_ERR_ROUTE_NOT_FOUND':
        return new ApiCallError(failure, `sagad at ${this.server} has no route ${method} ${path.split('?')[0] ?? path}`, `is it an older sagad, or not sagad at all? ${pointElsewhere}`);
      case 'SAGA_ERR_NOT_READY':
        return new ApiCallError(failure, `sagad at ${this.server} is not ready: ${failure.message}`, `check its readiness with curl ${this.server}/readyz and try again`);
      case 'SAGA_ERR_INTERNAL':
        return new ApiCallError(failure, `sagad at ${this.server} failed to handle ${method} ${path.split('?')[0] ?? path}`, 'its log has the details');
      default:
        return new ApiCallError(failure, failure.message);
    }
  }
}
