import { join } from 'node:path';
import t, { type Test } from 'tap';
import { silentLog } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { serveStartRequests, type StartRequestLimits } from '../../engine/runtime/start-requests.js';
import { openStore } from '../../engine/store/index.js';
import type { StorePort } from '../../engine/store/port.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { connectNats, type NatsLink } from '../../engine/transport/connection.js';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import { uuidv7 } from '../../engine/ids.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * `sagas.start.<name>` handles a bounded number of requests, and bytes of them, at once
 * (engine/runtime/start-requests.ts): a thousand 900 KB requests handled together once took
 * 2.5 GB and starved the lease renewals. The rest wait in the subscription, and every one is
 * still answered (or started, without a reply subject). Real nats-server, real engine and
 * SQLite file; the store's commits are held at a gate, so the starts in hand can be counted.
 */
const sagas = sagasOf(`
version: 1
sagas:
  - name: plain
    steps:
      - name: go
        pivot: true
        command: { subject: plain.commands, type: Go, payload: {} }
        reply: { subject: plain.events, success: [Gone] }
        timeout: 1h
`);

const LIMIT = 4;
const N = 24;
const KiB = 1024;

const nats = await startNatsServer();
t.teardown(() => nats.stop());
const link: NatsLink = await connectNats({ url: nats.url });
t.teardown(() => link.close());

/** An engine whose commits wait at a gate until it opens, serving start requests within `limits`. */
function serveGated(t: Test, limits: StartRequestLimits = { count: LIMIT, bytes: 1024 * 1024 * KiB }) {
  const store = openStore(join(t.testdir(), 'sagad.db'));
  const port = sqlitePort(store);
  // `company`: how many starts were in the store, its own included, when each instance's came.
  const gate = { open: false, held: [] as (() => void)[], inCommit: 0, most: 0, company: new Map<string, number>() };
  const gated: StorePort = {
    ...port,
    async commit(w) {
      gate.inCommit += 1;
      gate.most = Math.max(gate.most, gate.inCommit);
      for (const c of w.changes) gate.company.set(c.state.id, gate.inCommit);
      try {
        if (!gate.open) await new Promise<void>((resolve) => gate.held.push(resolve));
        return await port.commit(w);
      } finally {
        gate.inCommit -= 1;
      }
    },
  };
  const engine = new Engine({ store: gated, registry: new Registry(sagas), log: silentLog });
  const sub = serveStartRequests(link.nc, engine, silentLog, limits);
  t.teardown(() => {
    sub.unsubscribe();
    store.close();
  });
  /** Lets every commit held, and every later one, through. */
  const openGate = () => {
    gate.open = true;
    for (const release of gate.held.splice(0)) release();
  };
  return { engine, sub, gate, openGate };
}

const envelope = (id: string, pad = '') => encodeEnvelope({
  eventId: uuidv7(), eventType: 'StartPlain', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1,
  correlationId: `corr-${id}`, causationId: null, payload: { id, input: { n: id, pad } },
} as Parameters<typeof encodeEnvelope>[0]);

/** Asks for the start of each envelope; resolves with the answers, in order. */
const requestAll = (bodies: readonly Uint8Array[]) => Promise.all(bodies.map(async (body) => {
  const m = await link.nc.request('sagas.start.plain', body, { timeout: 10_000 });
  return JSON.parse(new TextDecoder().decode(m.data)) as unknown;
}));

t.test(`no more than ${LIMIT} requests are handled at once; the others wait, and all are answered`, async (t) => {
  const { engine, sub, gate, openGate } = serveGated(t);
  const ids = Array.from({ length: N }, (_, i) => `r-${i}`);
  const answers = requestAll(ids.map((id) => envelope(id)));
  await until(() => sub.getReceived() === N, `all ${N} requests to reach sagad`);
  await until(() => gate.held.length >= LIMIT, `${LIMIT} starts to reach the store`);
  t.equal(gate.held.length, LIMIT, `${LIMIT} starts reached the store; the others wait in the subscription`);

  openGate();
  t.same(await answers, ids.map((id) => ({ id, state: 'running', created: true })), 'every request answered with its instance');
  t.equal(gate.most, LIMIT, `never more than ${LIMIT} starts in hand at once`);
  t.equal((await engine.listInstances({ limit: 100 })).items.length, N);
});

t.test('starts published without a reply subject wait their turn too, and none is lost', async (t) => {
  const { engine, sub, gate, openGate } = serveGated(t);
  const ids = Array.from({ length: N }, (_, i) => `p-${i}`);
  for (const id of ids) link.nc.publish('sagas.start.plain', envelope(id));
  await link.nc.flush();
  await until(() => sub.getReceived() === N, `all ${N} starts to reach sagad`);
  await until(() => gate.held.length >= LIMIT, `${LIMIT} starts to reach the store`);
  t.equal(gate.held.length, LIMIT, `${LIMIT} starts reached the store; the others wait in the subscription`);

  openGate();
  const started = async () => (await engine.listInstances({ limit: 100 })).items.length;
  await until(async () => await started() === N, `all ${N} instances to be started`);
  t.equal(gate.most, LIMIT, `never more than ${LIMIT} starts in hand at once`);
  t.same((await Promise.all(ids.map((id) => engine.getInstance(id)))).map((s) => s?.status), ids.map(() => 'running'));
});

t.test('big requests are also bounded by their bytes; one bigger than the bound is still taken, alone', async (t) => {
  // Three 100 KiB requests do not fit in 250 KiB: two at a time.
  const { engine, sub, gate, openGate } = serveGated(t, { count: LIMIT, bytes: 250 * KiB });
  const ids = Array.from({ length: 8 }, (_, i) => `b-${i}`);
  const bodies = ids.map((id) => envelope(id, 'x'.repeat(100 * KiB)));
  ids.push('huge');
  bodies.push(envelope('huge', 'x'.repeat(300 * KiB)));
  const answers = requestAll(bodies);
  await until(() => sub.getReceived() === ids.length, `all ${ids.length} requests to reach sagad`);
  await until(() => gate.held.length >= 2, '2 starts to reach the store');
  t.equal(gate.held.length, 2, 'two reached the store; the third would pass the bytes bound');

  openGate();
  t.same(await answers, ids.map((id) => ({ id, state: 'running', created: true })), 'every request answered with its instance');
  t.equal(gate.most, 2, 'never more than two at once');
  t.equal((await engine.getInstance('huge'))?.status, 'running');
  t.equal(gate.company.get('huge'), 1, 'the one bigger than the bound was alone');
});

t.test('a start request is held to the configured message limits (SAGA_MAX_MESSAGE_BYTES, SAGA_MAX_JSON_DEPTH), not the defaults', async (t) => {
  const store = openStore(join(t.testdir(), 'limits.db'));
  const engine = new Engine({ store: sqlitePort(store), registry: new Registry(sagas), log: silentLog });
  const sub = serveStartRequests(link.nc, engine, silentLog, undefined, { maxBytes: 2 * KiB, maxDepth: 8 });
  t.teardown(() => {
    sub.unsubscribe();
    store.close();
  });
  const [big, small] = await requestAll([envelope('big', 'x'.repeat(4 * KiB)), envelope('small')]) as [unknown, unknown];
  t.match(big, { error: { code: 'SAGA_ERR_INVALID_MESSAGE', message: /too large: \d+ bytes, the limit is 2048/ } }, 'over the configured bytes');
  t.same(small, { id: 'small', state: 'running', created: true }, 'a request within them starts');
  const deep = encodeEnvelope({
    eventId: uuidv7(), eventType: 'StartPlain', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1,
    correlationId: 'corr-deep', causationId: null, payload: { id: 'deep', input: { a: { b: { c: { d: { e: { f: { g: { h: 1 } } } } } } } } },
  } as Parameters<typeof encodeEnvelope>[0]);
  const [nested] = await requestAll([deep]);
  t.match(nested, { error: { code: 'SAGA_ERR_INVALID_MESSAGE' } }, 'deeper than the configured depth');
  t.equal(await engine.getInstance('deep'), undefined, 'and not started');
});
