import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import type { Test } from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { openStore } from '../../engine/store/index.js';
import { StoreEngine } from './store-engine.js';

/** The API over a StoreEngine on a fresh SQLite file, closed when the test ends. */
export function setup(t: Test, opts: Parameters<typeof buildApi>[1] = {}) {
  const store = openStore(join(t.testdir(), 'api.db'));
  const engine = new StoreEngine(store);
  const app = buildApi(engine, opts);
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  return { app, engine, store };
}

export type Json = Record<string, unknown>;
export const body = (res: LightMyRequestResponse): Json => res.json<Json>();

/** Asserts an error response: the status, the code, and exactly the four error fields. */
export function isError(t: Test, res: LightMyRequestResponse, statusCode: number, code: string, message?: string | RegExp): Json {
  t.equal(res.statusCode, statusCode, `status ${statusCode}`);
  const b = body(res);
  t.strictSame(Object.keys(b).sort(), ['code', 'error', 'message', 'statusCode'], 'exactly statusCode, code, error, message');
  t.equal(b.statusCode, statusCode);
  t.equal(b.code, code);
  t.type(b.error, 'string');
  t.type(b.message, 'string');
  t.notMatch(String(b.message), /\n\s+at /, 'no stack trace');
  if (message !== undefined) t.match(b.message, message);
  return b;
}
