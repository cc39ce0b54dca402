import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * `npm run demo`: runs sagad (embedded nats-server, the example definitions) and the demo
 * participants, starts a batch of orders of which some fail, waits until each has ended,
 * and prints what became of them. `--keep` leaves sagad running afterwards.
 */
const root = join(import.meta.dirname, '..', '..', '..');
const dataDir = join(root, 'data', 'demo');
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const orders = Number(args.find((a) => /^\d+$/.test(a)) ?? 20);

interface Doc { id: string; key: string | null; state: string; steps: { name: string; state: string; attempts: number; lastError: string | null }[]; reason?: string }

function spawnLogged(name: string, file: string, env: Record<string, string>, onLine: (line: string) => void): ChildProcess {
  const child = spawn(process.execPath, [join(root, 'dist', file)], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'pipe'] });
  if (child.stderr !== null) createInterface({ input: child.stderr }).on('line', onLine);
  child.on('exit', (code, signal) => { if (!stopping) console.error(`${name} exited (${code ?? signal}); see the lines above`); });
  return child;
}

let stopping = false;

function waitForLog(child: ChildProcess, lines: string[], pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not come up within 30 s`)), 30_000);
    const check = () => {
      for (const l of lines) {
        const m = l.match(pattern);
        if (m !== null) { clearTimeout(t); resolve(m); return; }
      }
      if (child.exitCode !== null) { clearTimeout(t); reject(new Error(`${what} exited with code ${child.exitCode}:\n${lines.slice(-10).join('\n')}`)); return; }
      setTimeout(check, 50);
    };
    check();
  });
}

async function main(): Promise<void> {
  rmSync(dataDir, { recursive: true, force: true });
  const sagadLines: string[] = [];
  const sagad = spawnLogged('sagad', 'engine/main.js', {
    SAGA_DB: join(dataDir, 'sagad.db'), SAGA_DEFINITIONS: join(root, 'saga-definitions.yaml'),
    SAGA_HTTP_PORT: process.env.SAGA_HTTP_PORT ?? '8080', SAGA_LOG_LEVEL: 'info',
  }, (l) => { sagadLines.push(l); if (/"level":"(warn|error)"/.test(l)) console.error(`sagad: ${l}`); });
  const stop = async () => {
    stopping = true;
    for (const c of [participants, sagad]) c?.kill('SIGTERM');
    await Promise.all([participants, sagad].map((c) => (c === undefined || c.exitCode !== null ? null : new Promise((r) => c.once('exit', r)))));
  };
  let participants: ChildProcess | undefined;
  try {
    const [, natsUrl] = await waitForLog(sagad, sagadLines, /embedded nats-server at (nats:\/\/[^,"]+)/, 'the embedded nats-server');
    const [, url] = await waitForLog(sagad, sagadLines, /"msg":"HTTP API listening","url":"([^"]+)"/, 'sagad');
    await waitForLog(sagad, sagadLines, /"msg":"sagad ready"/, 'sagad');
    console.log(`sagad is running: API ${url}, NATS ${natsUrl}, database ${join(dataDir, 'sagad.db')}`);
    const partLines: string[] = [];
    participants = spawnLogged('participants', 'sagas/demo/participants.js', {
      NATS_URL: natsUrl ?? '', DEMO_LEDGER: join(dataDir, 'ledger.jsonl'), SAGA_LOG_LEVEL: 'warn',
      DEMO_FAIL_RATE: process.env.DEMO_FAIL_RATE ?? '0.2', DEMO_OUT_OF_STOCK_RATE: process.env.DEMO_OUT_OF_STOCK_RATE ?? '0.1',
    }, (l) => partLines.push(l));

    console.log(`starting ${orders} orders (about a fifth get their payment declined, some are out of stock)...`);
    const ids: string[] = [];
    for (let i = 1; i <= orders; i++) {
      const input = { orderId: `order-${String(i).padStart(3, '0')}`, customerId: `customer-${i % 7}`, items: [{ sku: `sku-${i % 5}`, quantity: 1 + (i % 3) }], total: 10 * i, shippingAddress: { city: 'Lyon' } };
      const res = await fetch(`${url}/v1/sagas/order-fulfillment/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
      if (!res.ok) throw new Error(`start failed: ${res.status} ${await res.text()}`);
      ids.push(((await res.json()) as Doc).id);
    }
    const deadline = Date.now() + 120_000;
    let docs: Doc[] = [];
    for (;;) {
      docs = await Promise.all(ids.map(async (id) => (await (await fetch(`${url}/v1/instances/${id}`)).json()) as Doc));
      const open = docs.filter((d) => d.state === 'running' || d.state === 'compensating').length;
      if (open === 0) break;
      if (Date.now() > deadline) throw new Error(`${open} orders did not finish within 2 minutes`);
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log('\norder      state        steps');
    for (const d of docs) {
      const steps = d.steps.map((s) => `${s.name}=${s.state}${s.attempts > 1 ? `(${s.attempts} attempts)` : ''}`).join(' ');
      console.log(`${(d.key ?? d.id).padEnd(10)} ${d.state.padEnd(12)} ${steps}${d.reason === undefined ? '' : `\n           why: ${d.reason}`}`);
    }
    const by = new Map<string, number>();
    for (const d of docs) by.set(d.state, (by.get(d.state) ?? 0) + 1);
    console.log(`\n${[...by].map(([s, n]) => `${n} ${s}`).join(', ')} of ${docs.length} orders.`);
    console.log(`Try: npx sagactl validate saga-definitions.yaml; curl -s ${url}/v1/instances?state=compensated; curl -s ${url}/metrics`);
    if (keep) {
      console.log('sagad keeps running (--keep); press Ctrl-C to stop.');
      await new Promise<void>((r) => process.once('SIGINT', () => r()));
    }
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
