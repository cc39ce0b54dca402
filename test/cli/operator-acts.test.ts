import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { parseNamedTokens } from '../../engine/api/auth.js';
import type { HistoryEntryDocument } from '../../engine/api/index.js';
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
import { operatorActs } from '../../cli/views/operator-acts.js';
import { buildTimeline } from '../../ui/src/timeline.js';
import { cli } from './helpers.js';

/**
 * Who acted shows where the operator reads: `sagactl history`, `describe` and `why`, and the
 * console's timeline, give the token's name and the reason of each cancel and retry that the
 * journal keeps. Real engine, API (named tokens) and SQLite file; sagactl reads the file
 * (`--db`) and the server.
 */
const yaml = `
version: 1
sagas:
  - name: acted
    defaults: { timeout: 30s }
    steps:
      - name: hold
        command: { subject: acted.commands, type: Hold, payload: {} }
        reply: { subject: acted.events, success: [Held], failure: [HoldRefused] }
        compensate:
          command: { subject: acted.commands, type: Release, payload: {} }
          reply: { subject: acted.events, success: [Released], failure: [ReleaseFailed] }
          retry: { maxAttempts: 1 }
      - name: commit
        pivot: true
        command: { subject: acted.commands, type: Commit, payload: {} }
        reply: { subject: acted.events, success: [Committed] }
      - name: notify
        command: { subject: acted.commands, type: Notify, payload: { n: "{% $number($input.v) %}" } }
        reply: { subject: acted.events, success: [Notified] }
`;
const loaded = loadDefinitionsText(yaml, join(import.meta.dirname, 'acted.yaml'));
if (!loaded.ok) throw new Error(`fixture does not load: ${JSON.stringify(loaded.errors)}`);
const sagas = loaded.sagas;

const secrets = { alice: 'alice-secret', bob: 'bob-secret', carol: 'carol-secret', admin: 'root-secret' } as const;
const as = (who: keyof typeof secrets) => ({ authorization: `Bearer ${secrets[who]}` });

async function setup(t: Test) {
  const db = join(t.testdir(), 'sagad.db');
  const store = openStore(db);
  const log = createLogger('error', () => {});
  const engine = new Engine({ store: sqlitePort(store), registry: new Registry(sagas), log });
  const config = loadConfig({ SAGA_API_TOKEN: secrets.admin, SAGA_API_TOKENS: 'alice:alice-secret,bob:bob-secret,carol:carol-secret' });
  const app = buildApi(engine, { token: config.apiToken, namedTokens: parseNamedTokens(config.apiTokens), log });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  const handle = inboundHandler(engine, engine.deps.store, log);
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { db, store, app, handle, url };
}

/** The last command sagad queued for the instance. */
function lastCommand(store: Store, instanceId: string) {
  const rows = store.unsent(1000).filter((r) => r.headers['Saga-Id'] === instanceId && r.subject !== 'sagas.events');
  const env = parseEnvelope(rows.at(-1)?.data ?? new Uint8Array());
  if (!env.ok) throw new Error(env.reason);
  return env.envelope;
}

type World = Awaited<ReturnType<typeof setup>>;

/** Answers the instance's last command with `eventType`, as its participant would over NATS. */
async function answer(w: World, id: string, eventType: string, expect: string): Promise<void> {
  const cmd = lastCommand(w.store, id);
  if (cmd.eventType !== expect) throw new Error(`expected ${expect} to be the last command, got ${cmd.eventType}`);
  await w.handle({
    subject: 'acted.events', headers: {}, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: 1,
    data: encodeEnvelope({ eventId: uuidv7(), eventType, aggregateId: id, timestamp: new Date().toISOString(), version: 1, correlationId: cmd.correlationId, causationId: cmd.eventId, payload: {} }),
  });
}

async function post(w: World, who: keyof typeof secrets, url: string, payload?: Record<string, string>): Promise<void> {
  const r = await w.app.inject({ method: 'POST', url, headers: as(who), ...(payload === undefined ? {} : { payload }) });
  if (r.statusCode >= 300) throw new Error(`POST ${url}: ${r.statusCode} ${r.body}`);
}

async function historyOf(w: World, id: string): Promise<HistoryEntryDocument[]> {
  return (await w.app.inject({ url: `/v1/instances/${id}/history`, headers: as('admin') })).json<{ items: HistoryEntryDocument[] }>().items;
}

/** Cancelled by alice while hold is in flight; its one undo fails; resumed by bob with a reason; released: compensated. */
async function cancelledThenResumed(w: World): Promise<string> {
  const id = (await w.app.inject({ method: 'POST', url: '/v1/sagas/acted/instances', headers: as('alice'), payload: { input: {} } })).json<{ id: string }>().id;
  await post(w, 'alice', `/v1/instances/${id}/cancel`, { reason: 'customer called' });
  await answer(w, id, 'ReleaseFailed', 'Release');
  await post(w, 'bob', `/v1/instances/${id}/retry`, { reason: 'warehouse is back' });
  await answer(w, id, 'Released', 'Release');
  return id;
}

/** Past its pivot, notify's payload cannot be built: failed; carol resumes it without a reason; it fails the same way again. */
async function failedThenResumed(w: World): Promise<string> {
  const id = (await w.app.inject({ method: 'POST', url: '/v1/sagas/acted/instances', headers: as('admin'), payload: { input: { v: 'x' } } })).json<{ id: string }>().id;
  await answer(w, id, 'Held', 'Hold');
  await answer(w, id, 'Committed', 'Commit');
  if (w.store.getInstance(id)?.status !== 'failed') throw new Error('notify\'s payload should leave the instance failed');
  await post(w, 'carol', `/v1/instances/${id}/retry`);
  return id;
}

t.test('the operator actions of a journal: who, what, why, in order', async (t) => {
  const w = await setup(t);
  const a = await cancelledThenResumed(w);
  t.match(operatorActs(await historyOf(w, a)), [
    { action: 'cancel', step: null, by: 'alice', reason: 'customer called' },
    { action: 'retry', step: null, by: 'bob', reason: 'warehouse is back' },
  ]);
  const b = await failedThenResumed(w);
  t.match(operatorActs(await historyOf(w, b)), [{ action: 'retry', step: 'notify', by: 'carol', reason: null }]);
  t.same(operatorActs((await historyOf(w, b)).filter((e) => e.type !== 'ForwardResumed')), [], 'no act, nothing listed');
});

t.test('sagactl history names who cancelled and who resumed, with the reasons', async (t) => {
  const w = await setup(t);
  const a = await cancelledThenResumed(w);
  const b = await failedThenResumed(w);
  const ha = await cli(['history', a, '--db', w.db], { columns: 200 });
  t.equal(ha.code, 0, ha.err);
  t.match(ha.out, /CompensationStarted +cancelled: customer called \(by alice\); to undo: hold\n/);
  t.match(ha.out, /CompensationResumed +bob resumed the compensation, saying “warehouse is back”\n/);
  const hb = await cli(['history', b, '--server', w.url, '--token', secrets.admin], { columns: 200 });
  t.equal(hb.code, 0, hb.err);
  t.match(hb.out, /ForwardResumed +carol resumed step notify\n/, 'no reason given, none shown');
});

t.test('sagactl describe lists the operator actions; an instance without any has no such table', async (t) => {
  const w = await setup(t);
  const a = await cancelledThenResumed(w);
  const d = await cli(['describe', a, '--server', w.url, '--token', secrets.admin], { columns: 200 });
  t.equal(d.code, 0, d.err);
  t.match(d.out, /\nOPERATOR ACTION +AT +BY +REASON\n/);
  t.match(d.out, /\ncancel +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \([^)]*\) +alice +customer called\n/);
  t.match(d.out, /\nretry compensation +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \([^)]*\) +bob +warehouse is back\n/);
  t.strictSame(await cli(['describe', a, '--db', w.db], { columns: 200, now: Date.parse('2030-01-01T00:00:00Z') }).then((r) => r.out.split('OPERATOR ACTION')[1]),
    await cli(['describe', a, '--server', w.url, '--token', secrets.admin], { columns: 200, now: Date.parse('2030-01-01T00:00:00Z') }).then((r) => r.out.split('OPERATOR ACTION')[1]),
    'the database and the server say the same');
  const plain = (await w.app.inject({ method: 'POST', url: '/v1/sagas/acted/instances', headers: as('admin'), payload: { input: {} } })).json<{ id: string }>().id;
  const p = await cli(['describe', plain, '--db', w.db], { columns: 200 });
  t.equal(p.code, 0, p.err);
  t.notMatch(p.out, /OPERATOR ACTION/);
  const json = await cli(['describe', a, '--db', w.db, '-o', 'json']);
  t.notMatch(json.out, /OPERATOR ACTION/, 'json stays the API document');
});

t.test('sagactl why says who acted last, when, and why; -o json has it as a fact', async (t) => {
  const w = await setup(t);
  const a = await cancelledThenResumed(w);
  const why = await cli(['why', a, '--db', w.db], { columns: 400 });
  t.equal(why.code, 0, why.err);
  t.match(why.out, /is waiting for nothing: it was compensated at .* because cancelled: customer called\. Last operator action: bob resumed the compensation at \d\d:\d\d:\d\d UTC \([^)]*\), saying “warehouse is back” \(2 operator actions in all: `sagactl describe [^`]+` lists them\)\./);
  const facts = JSON.parse((await cli(['why', a, '--db', w.db, '-o', 'json'])).out) as { lastOperatorAction: unknown };
  t.match(facts.lastOperatorAction, { action: 'retry', step: null, by: 'bob', reason: 'warehouse is back' });

  const id = (await w.app.inject({ method: 'POST', url: '/v1/sagas/acted/instances', headers: as('admin'), payload: { input: {} } })).json<{ id: string }>().id;
  await post(w, 'alice', `/v1/instances/${id}/cancel`, { reason: 'fraud suspected' });
  const compensating = await cli(['why', id, '--db', w.db], { columns: 400 });
  t.match(compensating.out, /is compensating because cancelled: fraud suspected\. Last operator action: alice cancelled it at [^,]*, saying “fraud suspected”\. /);
  const none = JSON.parse((await cli(['why', (await failedThenResumed(w)), '--db', w.db, '-o', 'json'])).out) as { lastOperatorAction: unknown };
  t.match(none.lastOperatorAction, { by: 'carol', reason: null });
});

t.test("the console's timeline marks say who cancelled and who resumed, and why", async (t) => {
  const w = await setup(t);
  const a = await cancelledThenResumed(w);
  const marks = buildTimeline(await historyOf(w, a), Date.now()).marks.map((m) => m.label);
  t.same(marks, ['compensation started: cancelled: customer called (by alice)', 'failed', 'bob resumed the compensation, saying “warehouse is back”', 'compensated']);
  const b = await failedThenResumed(w);
  t.same(buildTimeline(await historyOf(w, b), Date.now()).marks.map((m) => m.label), ['failed', 'carol resumed step notify', 'failed']);
});

/** Past its pivot, notify's payload cannot be built: failed, waiting for an operator. */
async function failedPastPivot(w: World): Promise<string> {
  const id = (await w.app.inject({ method: 'POST', url: '/v1/sagas/acted/instances', headers: as('admin'), payload: { input: { v: 'x' } } })).json<{ id: string }>().id;
  await answer(w, id, 'Held', 'Hold');
  await answer(w, id, 'Committed', 'Commit');
  return id;
}

t.test('sagactl retry --reason journals the reason with the token\'s name, for one instance and for many', async (t) => {
  const w = await setup(t);
  const one = await failedPastPivot(w);
  const r = await cli(['retry', one, '--reason', 'fixed inventory', '--server', w.url, '--token', secrets.bob]);
  t.equal(r.code, 0, r.err);
  t.match(operatorActs(await historyOf(w, one)), [{ action: 'retry', step: 'notify', by: 'bob', reason: 'fixed inventory' }]);

  const many = [await failedPastPivot(w), await failedPastPivot(w)];
  const bulk = await cli(['retry', '--saga', 'acted', '--reason', 'payment service is back', '--yes', '--server', w.url, '--token', secrets.carol]);
  t.equal(bulk.code, 0, bulk.err);
  for (const id of many) t.match(operatorActs(await historyOf(w, id)).at(-1), { action: 'retry', by: 'carol', reason: 'payment service is back' }, `${id} in bulk`);

  const none = await cli(['retry', many[0] ?? '', '--server', w.url, '--token', secrets.alice]);
  t.equal(none.code, 0, none.err);
  t.match(operatorActs(await historyOf(w, many[0] ?? '')).at(-1), { by: 'alice', reason: null }, 'without --reason, none is journaled');
});

t.test('a bad --reason stops a bulk act before anything is listed, asked or sent', async (t) => {
  const w = await setup(t);
  const running = (await w.app.inject({ method: 'POST', url: '/v1/sagas/acted/instances', headers: as('admin'), payload: { input: {} } })).json<{ id: string }>().id;
  const failed = await failedPastPivot(w);
  for (const [verb, bad] of [['cancel', 'two\tcolumns'], ['cancel', ''], ['retry', 'x'.repeat(1001)], ['retry', 'line 1\nline 2']] as const) {
    const r = await cli([verb, '--saga', 'acted', '--reason', bad, '--server', w.url, '--token', secrets.admin], { answers: ['y'] });
    t.equal(r.code, 2, `${verb} --reason ${JSON.stringify(bad.slice(0, 20))}: a usage error`);
    t.equal(r.out, '', 'nothing listed');
    t.strictSame(r.asked, [], 'nothing asked');
    t.match(r.err, /a reason (says why|is one line|has at most 1000 characters)/, 'a plain sentence');
    t.notMatch(r.err, /must match pattern|\\u0000/, 'not the server\'s schema');
  }
  t.equal(w.store.getInstance(running)?.status, 'running', 'nothing cancelled');
  t.same(operatorActs(await historyOf(w, failed)), [], 'nothing retried');
});
