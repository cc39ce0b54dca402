import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The built server; `npm test` builds before tap runs, so `dist/` is fresh. */
export const SAGAD_MAIN = fileURLToPath(new URL('../../dist/engine/main.js', import.meta.url));

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;
const LOG_LINES_KEPT = 2_000;

/** Options of {@link startSagad}. */
export interface SagadOptions {
  natsUrl: string;
  dbFile: string;
  /** Definitions file (SAGA_DEFINITIONS); default the repository's saga-definitions.yaml. */
  definitions?: string;
  /** More environment variables, e.g. SAGA_LOG_LEVEL. */
  env?: Record<string, string>;
  /** How long to wait for `/readyz` (default 30 s). */
  readyTimeoutMs?: number;
}

/** A sagad process started by {@link startSagad}. */
export interface Sagad {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  readonly pid: number;
  /** Sends SIGTERM and resolves with the exit code (null when killed by a signal); SIGKILLs after 30 s. */
  stop(): Promise<number | null>;
  /** Sends SIGKILL and resolves once the process is gone. */
  kill9(): Promise<void>;
  /** Resolves once GET /readyz answers 200 (bounded; rejects with the log tail). */
  waitReady(timeoutMs?: number): Promise<void>;
  /** stderr lines (JSON log lines) so far, oldest first; the last 2000 are kept. */
  logs(): string[];
  /** True once the process has exited. */
  exited(): boolean;
  /** Resolves once the process has exited by itself (nothing is sent to it), with its exit code or the signal that ended it. */
  exitStatus(): Promise<{ code: number | null; signal: string | null }>;
}

// A test file that crashes skips its teardown: kill what it started rather than leave it running.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** sagad exited before it became ready: its exit code and log. */
export class SagadExitedError extends Error {
  constructor(readonly code: number | null, readonly signal: string | null, readonly stderr: string[]) {
    super(`sagad exited before it was ready (code ${code}, signal ${signal}):\n${stderr.slice(-30).join('\n')}`);
    this.name = 'SagadExitedError';
  }
}

/**
 * Spawns `node dist/engine/main.js` on a free port and resolves once `/readyz` answers 200.
 * Rejects with {@link SagadExitedError} when the process exits first (bad definitions, no NATS).
 */
export async function startSagad(opts: SagadOptions): Promise<Sagad> {
  if (!existsSync(SAGAD_MAIN)) throw new Error(`${SAGAD_MAIN} is missing; run \`npm run build\` first`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The test runner's TypeScript loader is not wanted in the server, which runs the build output.
  delete env.NODE_OPTIONS;
  Object.assign(env, {
    NATS_URL: opts.natsUrl, SAGA_DB: opts.dbFile, SAGA_HTTP_PORT: '0', SAGA_HTTP_HOST: '127.0.0.1', SAGA_LOG_LEVEL: 'info',
    ...(opts.definitions === undefined ? {} : { SAGA_DEFINITIONS: opts.definitions }),
    ...opts.env,
  });
  const child = spawn(process.execPath, [SAGAD_MAIN], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const lines: string[] = [];
  let exit: { code: number | null; signal: string | null } | null = null;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  let onUrl: (url: string) => void = () => undefined;
  const urlSeen = new Promise<string>((resolve) => { onUrl = resolve; });
  createInterface({ input: child.stderr }).on('line', (line) => {
    lines.push(line);
    if (lines.length > LOG_LINES_KEPT) lines.splice(0, lines.length - LOG_LINES_KEPT);
    if (line.includes('"HTTP API listening"')) {
      try {
        const url = (JSON.parse(line) as { url?: unknown }).url;
        if (typeof url === 'string') onUrl(url);
      } catch {
        // not one of our JSON lines
      }
    }
  });
  // Wait for stderr to be fully read before reporting an early exit, so the error carries the whole message.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const early = exited.then(async (e) => {
    await closed;
    throw new SagadExitedError(e.code, e.signal, [...lines]);
  });
  early.catch(() => undefined);

  const readyTimeout = opts.readyTimeoutMs ?? READY_TIMEOUT_MS;
  let url: string;
  const giveUp = new AbortController();
  try {
    url = await Promise.race([urlSeen, early, delay(readyTimeout, undefined, { signal: giveUp.signal }).then(() => {
      throw new Error(`sagad did not log its URL within ${readyTimeout} ms:\n${lines.slice(-30).join('\n')}`);
    })]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    giveUp.abort();
  }

  const waitReady = async (timeoutMs = readyTimeout): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (exit !== null) return early.then(() => undefined);
      try {
        const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) return;
        last = `${res.status} ${await res.text()}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      await delay(25);
    }
    throw new Error(`sagad at ${url} was not ready within ${timeoutMs} ms (last /readyz: ${last}):\n${lines.slice(-30).join('\n')}`);
  };

  const sagad: Sagad = {
    url,
    pid: child.pid ?? -1,
    async stop() {
      if (exit === null) child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const e = await exited;
      clearTimeout(force);
      await closed;
      return e.code;
    },
    async kill9() {
      if (exit === null) child.kill('SIGKILL');
      await exited;
      await closed;
    },
    waitReady,
    logs: () => [...lines],
    exited: () => exit !== null,
    async exitStatus() {
      const e = await exited;
      await closed;
      return e;
    },
  };
  try {
    await waitReady();
  } catch (err) {
    await sagad.kill9();
    throw err;
  }
  return sagad;
}

/**
 * Polls `fn` (every `intervalMs`, default 25) until it returns something other than
 * undefined, null or false, and resolves with that value; rejects after `timeoutMs` with
 * `what`, the last value and the last error.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>, timeoutMs: number, opts: { what?: string; intervalMs?: number } = {},
): Promise<Exclude<T, undefined | null | false>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      last = await fn();
      lastError = undefined;
      if (last !== undefined && last !== null && last !== false) return last as Exclude<T, undefined | null | false>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await delay(opts.intervalMs ?? 25);
  }
  const why = lastError === undefined ? `last value ${JSON.stringify(last)}` : `last error ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'} (${why})`);
}
