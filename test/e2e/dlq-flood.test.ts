import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { connectNats } from '../../engine/transport/connection.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { cli } from '../cli/helpers.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startSagad, waitFor } from '../helpers/sagad.js';

/**
 * Issue 13's goal for dead letters, on a real nats-server and a real sagad: 1,000 one-MB
 * garbage messages on a reply subject (anyone allowed to publish there can send them) keep
 * sagad under 300 MB of RSS, and `GET /v1/dlq` answers. Before, 320 of them took RSS to
 * 1.6 GB and the list failed with `RangeError: Invalid string length`. The queue keeps its
 * cap (the oldest dropped and counted), the warn line is written once per interval, a 10,000-
 * deep message is parked on its first delivery, and a letter is redriven once.
 */
const MESSAGES = 1000;
const SIZE = 1_000_000;
const RSS_LIMIT_KB = 300 * 1024;

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sagad-dlq-flood-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const nats = await startNatsServer();
t.teardown(() => nats.stop());
const sagad = await startSagad({
  natsUrl: nats.url, dbFile: join(dir, 'sagad.db'), definitions: join(root, 'sagas/order-fulfillment.yaml'),
  env: { SAGA_API_TOKEN: 'root-token', SAGA_API_TOKENS: 'alice:alice-token', SAGA_DLQ_MAX_BYTES: String(50 * 1_048_576) },
});
t.teardown(async () => { await sagad.stop(); });
const link = await connectNats({ url: nats.url });
t.teardown(() => link.close());

const auth = { authorization: 'Bearer alice-token' };
const api = async <T>(method: string, path: string): Promise<{ status: number; body: T; bytes: number }> => {
  const res = await fetch(`${sagad.url}${path}`, { method, headers: auth, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as T, bytes: text.length };
};
const metric = async (name: string): Promise<number> => {
  const text = await (await fetch(`${sagad.url}/metrics`, { headers: auth, signal: AbortSignal.timeout(10_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
};
/** Kilobytes of a /proc/PID/status field of the sagad child process. */
const status = (field: 'VmRSS' | 'VmHWM'): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${sagad.pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
};

t.test('1,000 one-MB garbage messages: RSS stays under 300 MB, the queue keeps its cap, GET /v1/dlq answers', async (t) => {
  let peak = status('VmRSS');
  const sampler = setInterval(() => { peak = Math.max(peak, status('VmRSS')); }, 50);
  t.teardown(() => clearInterval(sampler));
  const garbage = Buffer.alloc(SIZE, 'x');
  const began = Date.now();
  // A few in flight at once, as a busy publisher would; each acknowledged by JetStream.
  for (let i = 0; i < MESSAGES; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, j) => {
      garbage.write(`garbage-${String(i + j).padStart(8, '0')}`, 0);
      return publishEnvelope(link.js, 'inventory.events', Uint8Array.from(garbage), {}, `garbage-${i + j}`);
    }));
  }
  t.comment(`published in ${Date.now() - began} ms`);
  await waitFor(async () => (await metric('sagad_messages_total{outcome="dead_lettered"}')) >= MESSAGES, 50_000,
    { what: 'every garbage message to be parked', intervalMs: 250 }).catch(async (err: unknown) => {
    const text = await (await fetch(`${sagad.url}/metrics`, { headers: auth })).text();
    t.comment(text.split('\n').filter((l) => l.startsWith('sagad_')).join('\n'));
    t.comment(sagad.logs().slice(-20).join('\n'));
    t.comment(`VmHWM ${status('VmHWM')} kB`);
    throw err;
  });
  t.comment(`all parked after ${Date.now() - began} ms`);
  clearInterval(sampler);
  const hwm = status('VmHWM');
  t.ok(hwm < RSS_LIMIT_KB, `sagad's peak RSS (VmHWM) ${Math.round(hwm / 1024)} MB is under 300 MB`, { hwm, sampledPeak: peak });

  const list = await api<{ items: Record<string, unknown>[]; nextCursor: string | null }>('GET', '/v1/dlq?limit=500');
  t.equal(list.status, 200, 'GET /v1/dlq answers');
  t.ok(list.bytes < 1_048_576, `the page is small (${list.bytes} bytes): no bodies`);
  t.ok(list.body.items.length > 0 && list.body.items.length <= 52, 'at most 52 one-MB letters fit SAGA_DLQ_MAX_BYTES=50 MiB', { kept: list.body.items.length });
  t.notOk(list.body.items.some((l) => 'data' in l || 'text' in l), 'no item carries a body');
  t.match(list.body.items[0], { subject: 'inventory.events', size: SIZE, reason: /not a JSON envelope/, deliveryCount: 1 });
  const dropped = await metric('sagad_dead_letters_dropped_total');
  t.equal(dropped + list.body.items.length, MESSAGES, 'every letter is kept or counted as dropped, none lost silently', { dropped });
  const warned = sagad.logs().filter((l) => l.includes('"message dead-lettered"'));
  t.ok(warned.length >= 1 && warned.length <= 10, `identical failures are logged once per interval (${warned.length} lines for ${MESSAGES})`);
  const cut = sagad.logs().filter((l) => l.includes('dead-letter queue full'));
  t.ok(cut.length >= 1 && cut.length <= 10, 'the drops are logged, once per interval');
  const one = await api<{ data: string; size?: number }>('GET', `/v1/dlq/${String(list.body.items[0]?.id)}`);
  t.equal(Buffer.from(one.body.data, 'base64').length, SIZE, 'one letter has its body');
});

t.test('a 10,000-deep message is parked on its first delivery', async (t) => {
  const deep = Buffer.from(`{"eventId":"deep-1","payload":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
  await publishEnvelope(link.js, 'inventory.events', deep, {}, 'deep-1');
  const letter = await waitFor(async () => (await api<{ items: { reason: string; deliveryCount: number; preview: string | null }[] }>('GET', '/v1/dlq'))
    .body.items.find((l) => l.preview?.startsWith('{"eventId":"deep-1"')), 20_000, { what: 'the deep message to be parked' });
  t.match(letter, { deliveryCount: 1, reason: /JSON nested too deep: more than 64 levels/ });
});

t.test('a letter is redriven once, by a named token; a second redrive is refused, and sagactl says so', async (t) => {
  const [first] = (await api<{ items: { id: string }[] }>('GET', '/v1/dlq?limit=1')).body.items;
  const id = first?.id ?? '';
  const redrive = await fetch(`${sagad.url}/v1/dlq/${id}/redrive`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'parser fixed' }),
  });
  t.equal(redrive.status, 200);
  t.match(await redrive.json(), { id, redrivenBy: 'alice' });
  const again = await api<{ code: string }>('POST', `/v1/dlq/${id}/redrive`);
  t.equal(again.status, 409);
  t.equal(again.body.code, 'SAGA_ERR_ALREADY_REDRIVEN');
  const r = await cli(['dlq', 'redrive', id], { env: { SAGA_SERVER: sagad.url, SAGA_API_TOKEN: 'root-token' } });
  t.equal(r.code, 1);
  t.match(r.err, `dead letter ${id} was redriven already; a letter is redriven once`);
  t.ok(sagad.logs().some((l) => l.includes('"operator redrove a dead letter"') && l.includes('"by":"alice"') && l.includes('"reason":"parser fixed"')), 'logged with the name and reason');
  const purge = await cli(['dlq', 'purge', id, '--reason', 'garbage'], { env: { SAGA_SERVER: sagad.url, SAGA_API_TOKEN: 'alice-token' } });
  t.equal(purge.code, 0, purge.err);
  await waitFor(() => sagad.logs().some((l) => l.includes('"operator purged a dead letter"') && l.includes('"by":"alice"') && l.includes('"reason":"garbage"')), 5_000,
    { what: 'the purge to be logged with its name and reason' });
});
