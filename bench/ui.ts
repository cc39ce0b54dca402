/**
 * The web console over a large database: 1,000,000 finished instances (as `bench/list.ts`
 * writes them, with saga times spread over 0.2 to 30 s) plus one compensated instance with its
 * whole journal, sagad on that file, and Debian's chromium loading the list's first page, that
 * instance's page, the overview (counts by state and the exact saga times of every instance)
 * and the definition page (instances per version), each from a cold page load. "Ready" is the console's own mark, set once the page drew its first data: from
 * navigation start, so it covers the page, the bundle, /v1/whoami, the page's API calls and
 * the render. Prints the figures and the bundle's size; asserts nothing.
 *
 * It also times the API calls behind the new figures on their own: `GET /v1/stats`, and
 * `GET /v1/stats/durations` computed afresh (a `since` never asked before) and as the console
 * gets it (the default window, cached by cost).
 *
 *   npm run build && npx tsc -p bench/tsconfig.json && node dist/bench/ui.js [instances] [rounds]
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { chromium } from 'playwright-core';
import { decide, eventVersion, isRejection, start, type Decision, type Env, type SagaEvent } from '../engine/core/index.js';
import { loadDefinitionsFile } from '../engine/definitions/index.js';
import { createUuidv7 } from '../engine/ids.js';
import { generateFinished } from './list.js';
import { root } from './proc.js';
import { percentiles, type Percentiles } from './stats.js';
import { sandbox, startSagad } from './targets.js';

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

/**
 * Adds one compensated order-fulfillment instance, newest of all, with the journal the core
 * wrote for it (the generated million have none: the list reads only the projection).
 */
function addJournaled(file: string): string {
  const defs = loadDefinitionsFile(join(root, 'saga-definitions.yaml'));
  const def = defs.ok ? defs.sagas[0] : undefined;
  if (def === undefined) throw new Error('cannot load saga-definitions.yaml');
  let now = Date.now() - 5_000;
  const ids = createUuidv7();
  const env = (): Env => ({ now: (now += 37), newId: () => ids(now), random: () => 0.5 });
  const id = ids(now);
  const input = { orderId: 'o-bench-ui', customerId: 'cust-1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42.5, shippingAddress: { city: 'Berlin', zip: '10115' } };
  let d: Decision = start(def, { id, input, key: 'o-bench-ui', correlationId: 'c-bench-ui', event: null, causationId: id }, env());
  const events: SagaEvent[] = [...d.events];
  const answers: Record<string, [string, Record<string, unknown>]> = {
    ReserveInventory: ['InventoryReserved', { reservationId: 'res-1' }], ChargePayment: ['PaymentCharged', { paymentId: 'pay-1' }],
    ShipOrder: ['ShipmentRejected', { reason: 'no carrier' }], RefundPayment: ['PaymentRefunded', {}], ReleaseInventory: ['InventoryReleased', {}],
  };
  for (let i = 0; i < 10 && (d.state.status === 'running' || d.state.status === 'compensating'); i++) {
    const cmd = d.effects.find((e) => e.type === 'SendCommand');
    if (cmd === undefined || cmd.type !== 'SendCommand') break;
    const [eventType, payload] = answers[cmd.command.eventType] ?? ['Unknown', {}];
    const next = decide(def, d.state, { type: 'ReplyReceived', message: { eventId: ids(now), eventType, correlationId: 'c-bench-ui', causationId: cmd.command.eventId, aggregateId: 'o-bench-ui', version: 1, payload } }, env());
    if (isRejection(next)) throw new Error(`bench saga rejected: ${next.rejected.message}`);
    d = next;
    events.push(...d.events);
  }
  if (d.state.status !== 'compensated') throw new Error(`bench saga ended ${d.state.status}`);
  const db = new Database(file);
  db.transaction(() => {
    db.prepare(`INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(id, def.name, def.hash, 'o-bench-ui', 'c-bench-ui', 'compensated', d.state.createdAt, d.state.updatedAt, events.length, JSON.stringify(d.state));
    const row = db.prepare('INSERT INTO journal (instance_id, seq, type, type_version, at, data) VALUES (?, ?, ?, ?, ?, ?)');
    events.forEach((e, i) => row.run(id, i + 1, e.type, eventVersion[e.type], e.at, JSON.stringify(e)));
  })();
  db.close();
  return id;
}

/**
 * The generated instances all took 40 ms; real ones do not, and the durations query's answer
 * grows with the distinct times: 0.2 to 30 s, one in a thousand up to 5 min.
 */
function spreadSagaTimes(file: string): void {
  const db = new Database(file);
  db.pragma('synchronous = OFF');
  db.exec(`UPDATE instances SET updated_at = created_at + 200 + abs(random()) % 29800
    + CASE WHEN abs(random()) % 1000 = 0 THEN abs(random()) % 270000 ELSE 0 END`);
  db.close();
}

/** Client-side times of `n` GETs of `path(i)`, one after the other. */
async function timeCalls(n: number, path: (i: number) => string): Promise<Percentiles> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const began = performance.now();
    const res = await fetch(path(i));
    await res.text();
    if (!res.ok) throw new Error(`${path(i)} answered ${res.status}`);
    ms.push(performance.now() - began);
  }
  return percentiles(ms);
}

/** Total size of the built console (every file, dagre's chunk included), in KB. */
function bundleKb(): { raw: number; gzip: number } {
  let raw = 0;
  let gzip = 0;
  for (const f of readdirSync(join(root, 'dist', 'ui'))) {
    const b = readFileSync(join(root, 'dist', 'ui', f));
    raw += b.length;
    gzip += gzipSync(b, { level: 9 }).length;
  }
  return { raw: raw / 1024, gzip: gzip / 1024 };
}

interface PageTiming { readonly ready: Percentiles; readonly api: Percentiles }

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1_000_000);
  const rounds = Number(process.argv[3] ?? 15);
  const box = await sandbox();
  const profile = mkdtempSync(join(tmpdir(), 'sagad-bench-ui-chromium-'));
  try {
    // UI_BENCH_DB=FILE keeps the database for the next run (writing a million rows takes minutes).
    const kept = process.env.UI_BENCH_DB;
    const file = kept ?? join(box.dir, 'sagad.db');
    let id: string;
    if (kept !== undefined && existsSync(kept)) {
      const db = new Database(kept, { readonly: true });
      id = (db.prepare("SELECT instance_id AS id FROM journal ORDER BY rowid DESC LIMIT 1").get() as { id: string }).id;
      db.close();
      console.log(`reusing ${kept} (instance ${id} has a journal)`);
    } else {
      const generated = generateFinished(file, n);
      spreadSagaTimes(file);
      id = addJournaled(file);
      console.log(`${n.toLocaleString('en')} finished instances written in ${generated.toFixed(1)} s, plus ${id} with its journal`);
    }
    // The first start on a file of an older schema migrates it (migration 3 counts every instance and indexes the finished ones).
    const sagad = await startSagad({ natsUrl: box.nats.url, db: file, readyTimeoutMs: 300_000 });
    console.log(`sagad ready in ${(sagad.readyMs / 1000).toFixed(1)} s; load: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: ARGS, viewport: { width: 1280, height: 900 } });
    try {
      const page = context.pages()[0] ?? await context.newPage();
      const errors: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      const measure = async (hash: string, name: string): Promise<PageTiming> => {
        const ready: number[] = [];
        const api: number[] = [];
        for (let i = 0; i < rounds + 2; i++) {
          await page.goto('about:blank');
          await page.goto(`${sagad.url}/ui/${hash}`);
          await page.waitForSelector(`main[data-ready="${name}"]`, { timeout: 30_000 });
          const t = await page.evaluate((mark) => {
            interface Entry { name: string; startTime: number; duration: number }
            const perf = (globalThis as unknown as { performance: { getEntriesByName(n: string): Entry[]; getEntriesByType(t: string): Entry[] } }).performance;
            const at = perf.getEntriesByName(`sagad-ready:${mark}`)[0]?.startTime ?? Number.NaN;
            const calls = perf.getEntriesByType('resource').filter((r) => r.name.includes('/v1/') && r.startTime <= at);
            const loads = perf.getEntriesByType('resource').map((r) => `${r.name.replace(/^.*\/(ui|v1)\//, '$1/')} ${Math.round(r.startTime)}+${Math.round(r.duration)}`);
            return { at, loads, api: calls.length === 0 ? 0 : Math.max(...calls.map((c) => c.startTime + c.duration)) - Math.min(...calls.map((c) => c.startTime)) };
          }, name);
          if (process.env.UI_BENCH_DEBUG === '1') console.log(`${name} ready ${t.at.toFixed(0)}: ${t.loads.join(', ')}`);
          if (i < 2) continue; // the first loads warm the browser's and the server's caches
          ready.push(t.at);
          api.push(t.api);
        }
        return { ready: percentiles(ready), api: percentiles(api) };
      };
      const list = await measure('#/instances', 'instances');
      const one = await measure(`#/instances/${id}`, 'instance');
      const filtered = await measure('#/instances?state=compensated&saga=order-fulfillment', 'instances');
      const overview = await measure('#/', 'overview');
      const definition = await measure('#/definitions/order-fulfillment', 'definition');
      const stats = await timeCalls(rounds, () => `${sagad.url}/v1/stats`);
      const fresh = await timeCalls(Math.min(rounds, 5), (i) => `${sagad.url}/v1/stats/durations?since=${i + 1}`);
      const cached = await timeCalls(rounds, () => `${sagad.url}/v1/stats/durations`);
      const versions = await timeCalls(rounds, () => `${sagad.url}/v1/definitions/order-fulfillment/versions`);
      const size = bundleKb();
      const row = (what: string, p: PageTiming) =>
        `${what.padEnd(36)} ready p50 ${p.ready.p50.toFixed(0).padStart(4)} ms, p99 ${p.ready.p99.toFixed(0).padStart(4)} ms, max ${p.ready.max.toFixed(0).padStart(4)} ms; its API calls p50 ${p.api.p50.toFixed(1)} ms`;
      console.log(`\nweb console, ${n.toLocaleString('en')} instances, ${rounds} cold page loads each (chromium, 1280 px):`);
      console.log(row('list, first page', list));
      console.log(row('list, compensated of one saga', filtered));
      console.log(row('instance page (13 journal events)', one));
      console.log(row('overview (counts, saga times)', overview));
      console.log(row('definition (graph, versions)', definition));
      const call = (what: string, p: Percentiles) =>
        `${what.padEnd(36)} p50 ${p.p50.toFixed(1).padStart(6)} ms, p99 ${p.p99.toFixed(1).padStart(6)} ms, max ${p.max.toFixed(1).padStart(6)} ms`;
      console.log(call('GET /v1/stats', stats));
      console.log(call('GET /v1/stats/durations, computed', fresh));
      console.log(call('GET /v1/stats/durations, as polled', cached));
      console.log(call('GET .../versions', versions));
      console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
      console.log(`bundle: ${size.raw.toFixed(1)} KB, ${size.gzip.toFixed(1)} KB gzip`);
      if (errors.length > 0) console.log(`browser console errors: ${errors.join('; ')}`);
    } finally {
      await context.close();
      await sagad.stop();
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
    await box.close();
  }
}

await main();
