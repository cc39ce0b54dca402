import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import t from 'tap';
import { SAGAD_MAIN, waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { ORDER_LOAD_DEFS, pool, startWorld } from './harness.js';
import { sagaViolations } from './invariants.js';
import { checkAll, listed } from './load-check.js';

/**
 * SIGTERM drains under load (exit 0) and a restart on the same database finishes everything;
 * a nats-server restart under sagad loses nothing either.
 */
t.setTimeout(180_000);
const w = await startWorld(t, { definitions: ORDER_LOAD_DEFS });

t.test('SIGTERM with about 100 sagas in flight: exit 0, then a restart finishes them all', async (t) => {
  const kinds = ['', '~busy2', '~dropreserve', '~decline', '', '~dupreplies', '~shipreject'];
  const ids = Array.from({ length: 100 }, (_, i) => `term-${i}`);
  await pool(ids, 8, async (id, i) => {
    const r = await w.api.start(order(`o-${id}${kinds[i % kinds.length] ?? ''}`), { id });
    if (r.status !== 201) throw new Error(`start ${id} answered ${r.status}: ${JSON.stringify(r.body)}`);
  });
  // Mid-way: some have ended, others are still in flight.
  const before = await waitFor(async () => {
    const states = [...(await listed(w)).values()].map((i) => i.state);
    const ended = states.filter((s) => s === 'completed' || s === 'compensated').length;
    return ended >= 20 ? { ended, inFlight: states.length - ended } : undefined;
  }, 60_000, { what: '20 sagas to end' });
  // stop() sends SIGKILL if sagad has not exited by its deadline, so exit code 0 also says
  // the drain finished on its own.
  const code = await w.sagad.stop();
  t.equal(code, 0, 'exit code 0', w.diag({ before }));
  t.ok(before.inFlight > 0, `sagas were in flight at SIGTERM (${before.inFlight})`);
  const log = w.sagad.logs();
  t.ok(log.some((l) => l.includes('"msg":"stopped"')), 'it logged that it stopped', w.diag());
  t.same(log.filter((l) => l.includes('"level":"error"')), [], 'no error while draining');
  const db = new Database(w.dbFile, { readonly: true, fileMustExist: true });
  const unsent = db.prepare('SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL').get() as { n: number };
  db.close();
  t.equal(unsent.n, 0, 'every queued message was published before exit (the outbox table is flushed)');

  await w.restartSagad();
  await waitFor(async () => [...(await listed(w)).values()].every((i) => i.state === 'completed' || i.state === 'compensated'), 90_000, { what: 'every saga to end after the restart' });
  const docs = await checkAll(t, w, { ids, keys: [] });
  const state = (suffix: string) => new Set([...docs.values()].filter((d) => d.key?.endsWith(suffix)).map((d) => d.state));
  t.same(state('~decline'), new Set(['compensated']), 'declined payments compensated');
  t.same(state('~shipreject'), new Set(['compensated']), 'rejected shipments compensated');
});

t.test('nats-server restarts under sagad: readiness drops and recovers, the sagas in flight end soundly', async (t) => {
  const ids: string[] = [];
  const kinds = ['', '~dropreserve', '~busy2', '~decline'];
  for (let i = 0; i < 16; i++) ids.push((await w.api.started(order(`o-natsdown-${i}${kinds[i % kinds.length] ?? ''}`))).id);
  const seen = new Set<number>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      try {
        seen.add((await fetch(`${w.sagad.url}/readyz`, { signal: AbortSignal.timeout(1_000) })).status);
      } catch {
        // not a readiness answer
      }
      await delay(20);
    }
  })();
  await w.nats.restart();
  await w.sagad.waitReady(20_000);
  polling = false;
  await poller;
  t.ok(seen.has(503), 'readiness answered 503 while NATS was down', { seen: [...seen] });
  await waitFor(async () => {
    const docs = await Promise.all(ids.map((id) => w.api.instance(id)));
    return docs.every((d) => d.state === 'completed' || d.state === 'compensated');
  }, 60_000, { what: 'the sagas to end after the NATS restart' });
  const problems: Record<string, string[]> = {};
  for (const id of ids) {
    const p = sagaViolations(await w.api.instance(id), await w.api.history(id), w.ledger());
    if (p.length > 0) problems[id] = p;
  }
  t.same(problems, {}, 'saga guarantee', w.diag());
});

t.test('SIGTERM while sagad is still starting (API up, consumers not yet) also drains and exits 0', async (t) => {
  // The HTTP API listens (and accepts starts) before the streams and consumers are set up.
  const child = spawn(process.execPath, [SAGAD_MAIN], {
    env: { ...process.env, NODE_OPTIONS: '', NATS_URL: w.nats.url, SAGA_DB: join(w.dir, 'early.db'), SAGA_DEFINITIONS: w.definitions, SAGA_HTTP_PORT: '0', SAGA_NATS_PREFIX: 'early' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  createInterface({ input: child.stderr }).on('line', (l) => {
    lines.push(l);
    if (l.includes('"HTTP API listening"')) child.kill('SIGTERM');
  });
  const { code, signal } = await exit;
  t.same({ code, signal }, { code: 0, signal: null }, 'exit code 0, not killed by the signal (DESIGN section 5: SIGTERM drains and exits 0)', { log: lines.join('\n') });
});
