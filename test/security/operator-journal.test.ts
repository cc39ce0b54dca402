import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { parseNamedTokens } from '../../engine/api/auth.js';
import { loadConfig } from '../../engine/config.js';
import { loadDefinitionsText } from '../../engine/definitions/index.js';
import { uuidv7 } from '../../engine/ids.js';
import { createLogger } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { inboundHandler } from '../../engine/runtime/inbound.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';

/**
 * Issue 13, item 6: operator actions are journaled with the token's name and the reason; for
 * an instance in its history, besides a log line. Tokens get names from SAGA_API_TOKENS
 * (`name:secret,...`); SAGA_API_TOKEN keeps working and is `admin`.
 */
const yaml = `
version: 1
sagas:
  - name: journaled
    defaults: { timeout: 30s }
    steps:
      - name: a
        command: { subject: j.commands, type: DoA, payload: {} }
        reply: { subject: j.events, success: [ADone], failure: [ANope] }
        compensate:
          command: { subject: j.commands, type: UndoA, payload: {} }
          reply: { subject: j.events, success: [AUndone], failure: [AUndoFailed] }
          retry: { maxAttempts: 1 }
`;
const loaded = loadDefinitionsText(yaml, join(import.meta.dirname, 'journaled.yaml'));
if (!loaded.ok) throw new Error(`fixture does not load: ${JSON.stringify(loaded.errors)}`);
const sagas = loaded.sagas;

function setup(t: Test) {
  const store = openStore(join(t.testdir(), 'sagad.db'));
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('debug', (line) => { lines.push(JSON.parse(line) as Record<string, unknown>); });
  const engine = new Engine({ store: sqlitePort(store), registry: new Registry(sagas), log });
  const config = loadConfig({ SAGA_API_TOKEN: 'root-secret', SAGA_API_TOKENS: 'alice:alice-secret,ci-bot:bot-secret' });
  const app = buildApi(engine, { token: config.apiToken, namedTokens: parseNamedTokens(config.apiTokens), readToken: 'read-secret', log });
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  return { store, engine, app, lines, handle: inboundHandler(engine, engine.deps.store, log) };
}

const as = (secret: string) => ({ authorization: `Bearer ${secret}` });

function lastCommand(store: Store, instanceId: string) {
  const rows = store.unsent(1000).filter((r) => r.headers['Saga-Id'] === instanceId && r.subject !== 'sagas.events');
  const env = parseEnvelope(rows.at(-1)?.data ?? new Uint8Array());
  if (!env.ok) throw new Error(env.reason);
  return env.envelope;
}

t.test('SAGA_API_TOKENS is parsed into named tokens; a bad list is refused at start', async (t) => {
  t.same(parseNamedTokens('alice:a-1,ci.bot@x:b:2'), [{ name: 'alice', secret: 'a-1' }, { name: 'ci.bot@x', secret: 'b:2' }]);
  t.throws(() => loadConfig({ SAGA_API_TOKEN: 'x', SAGA_API_TOKENS: 'alice' }), { code: 'SAGA_ERR_CONFIG', message: /SAGA_API_TOKENS="alice": must be name:secret pairs/ });
  t.throws(() => loadConfig({ SAGA_API_TOKENS: 'alice:x' }), { code: 'SAGA_ERR_CONFIG', message: /set SAGA_API_TOKEN too/ });
  // One secret per caller: shared, the first holder found would be named, or a read token would act.
  t.throws(() => loadConfig({ SAGA_API_TOKEN: 'x', SAGA_API_READ_TOKEN: 'r', SAGA_API_TOKENS: 'alice:r' }), {
    code: 'SAGA_ERR_CONFIG', message: /SAGA_API_READ_TOKEN and the token alice of SAGA_API_TOKENS have the same secret: give each token its own/,
  });
  t.throws(() => loadConfig({ SAGA_API_TOKEN: 'x', SAGA_API_TOKENS: 'alice:s,bob:s' }), { code: 'SAGA_ERR_CONFIG', message: /the token alice of SAGA_API_TOKENS and the token bob of SAGA_API_TOKENS have the same secret/ });
  t.throws(() => loadConfig({ SAGA_API_TOKEN: 'x', SAGA_API_TOKENS: 'alice:x' }), { code: 'SAGA_ERR_CONFIG', message: /SAGA_API_TOKEN and the token alice/ });
  t.throws(() => loadConfig({ SAGA_API_TOKEN: 'x', SAGA_API_TOKENS: 'alice:a,alice:b' }), { code: 'SAGA_ERR_CONFIG', message: /SAGA_API_TOKENS names alice twice/ });
  t.equal(loadConfig({ SAGA_API_TOKEN: 'x', SAGA_API_READ_TOKEN: 'r', SAGA_API_TOKENS: 'alice:a,bob:b' }).apiTokens, 'alice:a,bob:b', 'distinct secrets and names are fine');
});

t.test("a cancel is in the instance's history with the token's name and the reason", async (t) => {
  const { app, lines } = setup(t);
  const started = await app.inject({ method: 'POST', url: '/v1/sagas/journaled/instances', headers: as('alice-secret'), payload: { input: {} } });
  t.equal(started.statusCode, 201, 'a named token may act');
  const id = started.json<{ id: string }>().id;
  const cancel = await app.inject({ method: 'POST', url: `/v1/instances/${id}/cancel`, headers: as('alice-secret'), payload: { reason: 'customer called' } });
  t.equal(cancel.statusCode, 200);
  const history = (await app.inject({ url: `/v1/instances/${id}/history`, headers: as('read-secret') })).json<{ items: { type: string; data: Record<string, unknown> }[] }>().items;
  const begun = history.find((e) => e.type === 'CompensationStarted');
  t.match(begun?.data.reason, { kind: 'cancelled', by: 'alice', message: 'cancelled: customer called' });
  t.match(lines.find((l) => l.msg === 'operator cancelled an instance'), { action: 'cancel', instance: id, by: 'alice', reason: 'customer called' });
  const byAdmin = await app.inject({ method: 'POST', url: '/v1/sagas/journaled/instances', headers: as('root-secret'), payload: { input: {} } });
  const other = byAdmin.json<{ id: string }>().id;
  await app.inject({ method: 'POST', url: `/v1/instances/${other}/cancel`, headers: as('root-secret'), payload: { reason: 'cleanup' } });
  const h2 = (await app.inject({ url: `/v1/instances/${other}/history`, headers: as('root-secret') })).json<{ items: { type: string; data: Record<string, unknown> }[] }>().items;
  t.match(h2.find((e) => e.type === 'CompensationStarted')?.data.reason, { by: 'admin' }, 'SAGA_API_TOKEN is the token named admin');
});

t.test("a retry is in the instance's history with the token's name and the reason", async (t) => {
  const { app, store, handle, lines } = setup(t);
  const id = (await app.inject({ method: 'POST', url: '/v1/sagas/journaled/instances', headers: as('bot-secret'), payload: { input: {} } })).json<{ id: string }>().id;
  await app.inject({ method: 'POST', url: `/v1/instances/${id}/cancel`, headers: as('bot-secret'), payload: { reason: 'test' } });
  const undo = lastCommand(store, id);
  t.equal(undo.eventType, 'UndoA');
  await handle({
    subject: 'j.events', headers: {}, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: 1,
    data: encodeEnvelope({ eventId: uuidv7(), eventType: 'AUndoFailed', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId: undo.correlationId, causationId: undo.eventId, payload: {} }),
  });
  t.equal(store.getInstance(id)?.status, 'failed', 'its one compensation attempt failed');
  const refused = await app.inject({ method: 'POST', url: `/v1/instances/${id}/retry`, headers: as('alice-secret'), payload: { reason: 'x\ny' } });
  t.equal(refused.statusCode, 400, 'a reason is one line');
  const retry = await app.inject({ method: 'POST', url: `/v1/instances/${id}/retry`, headers: as('alice-secret'), payload: { reason: 'inventory service is back' } });
  t.equal(retry.statusCode, 200, 'the failed instance is retried', { body: retry.body });
  const history = (await app.inject({ url: `/v1/instances/${id}/history`, headers: as('alice-secret') })).json<{ items: { type: string; data: Record<string, unknown> }[] }>().items;
  t.match(history.find((e) => e.type === 'CompensationResumed')?.data, { by: 'alice', reason: 'inventory service is back' });
  t.match(lines.find((l) => l.msg === 'operator retried an instance'), { action: 'retry', instance: id, by: 'alice', reason: 'inventory service is back' });
  const empty = await app.inject({ method: 'POST', url: `/v1/instances/${id}/retry`, headers: as('alice-secret'), payload: { reason: '' } });
  t.equal(empty.statusCode, 409, 'an empty reason (what the console sends when nothing was typed) counts as none');
  const bare = await app.inject({ method: 'POST', url: `/v1/instances/${id}/retry`, headers: as('alice-secret') });
  t.equal(bare.statusCode, 409, 'a retry without a body still reaches the engine (here: no longer failed)');
});
