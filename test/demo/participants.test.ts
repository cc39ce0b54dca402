import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { connectNats } from '../../engine/transport/connection.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import { uuidv7 } from '../../engine/ids.js';
import type { Envelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { ensureStreams } from '../../engine/transport/streams.js';
import { knobsFromEnv, Participant, unitHash } from '../../sagas/demo/participants.js';
import type { LedgerEntry } from '../../sagas/demo/participants.js';

const script = new URL('../../sagas/demo/participants.ts', import.meta.url).pathname;
const calm = { failRate: 0, outOfStockRate: 0, slowMs: 0, dropReplyRate: 0, busyRate: 0 };

const readLedger = (path: string): LedgerEntry[] =>
  readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LedgerEntry);

function command(eventType: string, payload: Record<string, unknown>): Envelope {
  return {
    eventId: uuidv7(), eventType, aggregateId: String(payload.orderId ?? 'order'), timestamp: new Date().toISOString(),
    version: 1, correlationId: `c-${uuidv7()}`, causationId: uuidv7(), payload,
  };
}

const sagaHeaders = (sagaId: string, step: string, action: 'do' | 'undo'): Record<string, string> =>
  ({ 'Saga-Id': sagaId, 'Saga-Step': step, 'Saga-Attempt': '1', 'Idempotency-Key': `${sagaId}/${step}/${action}` });

t.test('the participants process over NATS', async (t) => {
  const server = await startNatsServer();
  t.teardown(() => server.stop());
  const link = await connectNats({ url: server.url, jsTimeoutMs: 3_000 });
  t.teardown(() => link.close());
  const streams = await ensureStreams(link.jsm, ['inventory.commands', 'payments.commands', 'shipping.commands', 'inventory.events', 'payments.events', 'shipping.events'], 'create');
  t.equal(streams['payments.events'], 'PAYMENTS');

  const waiting = new Map<string, (e: { subject: string; env: Envelope }) => void>();
  const replies = link.nc.subscribe('*.events');
  void (async () => {
    for await (const m of replies) {
      const parsed = parseEnvelope(m.data);
      if (parsed.ok) waiting.get(parsed.envelope.causationId ?? '')?.({ subject: m.subject, env: parsed.envelope });
    }
  })();
  await link.nc.flush();

  /** Publishes a command with its headers and resolves with the reply that names it as its cause. */
  const send = async (subject: string, cmd: Envelope, headers: Record<string, string>) => {
    const reply = new Promise<{ subject: string; env: Envelope }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${cmd.eventType} ${cmd.eventId}`)), 15_000);
      waiting.set(cmd.eventId, (r) => { clearTimeout(timer); resolve(r); });
    });
    await publishEnvelope(link.js, subject, encodeEnvelope(cmd), { ...headers, 'Nats-Msg-Id': cmd.eventId }, cmd.eventId);
    return reply;
  };

  const startProcess = async (env: Record<string, string>) => {
    const child = spawn(process.execPath, [...process.execArgv, script], {
      env: { ...process.env, NATS_URL: server.url, SAGA_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    t.teardown(() => { child.kill('SIGKILL'); });
    const lines: string[] = [];
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stderr }).on('line', (l) => {
        lines.push(l);
        if (l.includes('"demo participants ready"')) resolve();
      });
      void exited.then((code) => reject(new Error(`participants exited with ${code}:\n${lines.join('\n')}`)));
    });
    return { child, exited, lines };
  };

  const ledger = join(t.testdir(), 'ledger.jsonl');
  const first = await startProcess({ DEMO_LEDGER: ledger, DEMO_FAIL_RATE: '0', DEMO_OUT_OF_STOCK_RATE: '0' });

  t.test('reserve, a duplicate with the same key, and release', async (t) => {
    const reserve = command('ReserveInventory', { orderId: 'order-1', items: [{ sku: 'a', quantity: 2 }] });
    const r1 = await send('inventory.commands', reserve, sagaHeaders('saga-1', 'reserve-inventory', 'do'));
    t.equal(r1.subject, 'inventory.events');
    t.match(r1.env, {
      eventType: 'InventoryReserved', aggregateId: 'order-1', version: 1, correlationId: reserve.correlationId,
      causationId: reserve.eventId, payload: { orderId: 'order-1', reservationId: /^res-/ },
    });
    t.match(r1.env.eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const again = { ...reserve, eventId: uuidv7() };
    const r2 = await send('inventory.commands', again, sagaHeaders('saga-1', 'reserve-inventory', 'do'));
    t.equal(r2.env.causationId, again.eventId);
    t.not(r2.env.eventId, r1.env.eventId);
    t.same([r2.env.eventType, r2.env.payload], [r1.env.eventType, r1.env.payload], 'the same answer');

    const release = command('ReleaseInventory', { reservationId: r1.env.payload.reservationId });
    const r3 = await send('inventory.commands', release, sagaHeaders('saga-1', 'reserve-inventory', 'undo'));
    t.match(r3.env, { eventType: 'InventoryReleased', causationId: release.eventId, payload: { reservationId: r1.env.payload.reservationId } });

    t.match(readLedger(ledger).filter((e) => e.sagaId === 'saga-1').map((e) => [e.key, e.action, e.effect, e.step]), [
      ['saga-1/reserve-inventory/do', 'do', 'done', 'reserve-inventory'],
      ['saga-1/reserve-inventory/do', 'do', 'duplicate', 'reserve-inventory'],
      ['saga-1/reserve-inventory/undo', 'undo', 'done', 'reserve-inventory'],
    ]);
  });

  t.test('an undo before its do answers "nothing to undo" and the late do is refused', async (t) => {
    const refund = command('RefundPayment', { orderId: 'order-2', amount: 10 });
    const r1 = await send('payments.commands', refund, sagaHeaders('saga-2', 'charge-payment', 'undo'));
    t.match(r1, { subject: 'payments.events', env: { eventType: 'PaymentRefunded', causationId: refund.eventId, payload: { nothingToUndo: true } } });
    const charge = command('ChargePayment', { orderId: 'order-2', customerId: 'c', amount: 10, currency: 'EUR' });
    const r2 = await send('payments.commands', charge, sagaHeaders('saga-2', 'charge-payment', 'do'));
    t.match(r2.env, { eventType: 'PaymentDeclined', causationId: charge.eventId, payload: { reason: 'compensation already began' } });
    t.same(readLedger(ledger).filter((e) => e.sagaId === 'saga-2').map((e) => [e.action, e.effect]), [['undo', 'nothing-to-undo'], ['do', 'refused']]);
  });

  t.test('charge and ship succeed when nothing is set to fail', async (t) => {
    const charge = command('ChargePayment', { orderId: 'order-3', customerId: 'c', amount: 42, currency: 'EUR' });
    t.match((await send('payments.commands', charge, sagaHeaders('saga-3', 'charge-payment', 'do'))).env,
      { eventType: 'PaymentCharged', payload: { orderId: 'order-3', paymentId: /^pay-/, amount: 42, currency: 'EUR' } });
    const ship = command('ShipOrder', { orderId: 'order-3', reservationId: 'res-x', address: {} });
    const shipped = await send('shipping.commands', ship, sagaHeaders('saga-3', 'ship-order', 'do'));
    t.match(shipped, { subject: 'shipping.events', env: { eventType: 'OrderShipped', causationId: ship.eventId, payload: { trackingNumber: /^trk-/ } } });
  });

  t.test('SIGTERM stops it with exit code 0; DEMO_FAIL_RATE=1 declines every payment', async (t) => {
    first.child.kill('SIGTERM');
    t.equal(await first.exited, 0);
    t.equal(first.lines.filter((l) => l.includes('"command":')).length, 7, 'one log line per command handled');
    await startProcess({ DEMO_LEDGER: join(t.testdir(), 'ledger.jsonl'), DEMO_FAIL_RATE: '1' });
    const charge = command('ChargePayment', { orderId: 'order-4', customerId: 'c', amount: 5, currency: 'EUR' });
    const r = await send('payments.commands', charge, sagaHeaders('saga-4', 'charge-payment', 'do'));
    t.match(r.env, { eventType: 'PaymentDeclined', causationId: charge.eventId, payload: { orderId: 'order-4', reason: 'card declined' } });
  });
});

t.test('the ledger is replayed on start; busy and dropped replies do what they say', async (t) => {
  const path = join(t.testdir(), 'l.jsonl');
  const reserve = command('ReserveInventory', { orderId: 'o', items: [] });
  const h = sagaHeaders('s', 'reserve-inventory', 'do');
  const p1 = new Participant(path, calm);
  const first = p1.handle(reserve, h);
  p1.close();
  appendFileSync(path, '{"torn":'); // a crash in the middle of a write
  const p2 = new Participant(path, calm);
  const second = p2.handle({ ...reserve, eventId: uuidv7() }, h);
  t.equal(second.entry?.effect, 'duplicate');
  t.same(second.reply?.envelope.payload, first.reply?.envelope.payload);
  t.equal(p2.handle(command('ReleaseInventory', {}), sagaHeaders('s', 'reserve-inventory', 'undo')).entry?.effect, 'done');
  p2.close();

  const busy = new Participant(join(t.testdir(), 'b.jsonl'), { ...calm, busyRate: 1, dropReplyRate: 0 });
  const b = busy.handle(command('ChargePayment', { orderId: 'o' }), sagaHeaders('s', 'charge-payment', 'do'));
  t.match(b, { entry: undefined, reply: { envelope: { eventType: 'PaymentGatewayBusy' } } });
  busy.close();
  const drop = new Participant(join(t.testdir(), 'd.jsonl'), { ...calm, dropReplyRate: 1 });
  const d = drop.handle(command('ShipOrder', { orderId: 'o' }), sagaHeaders('s', 'ship-order', 'do'));
  t.match(d, { entry: { effect: 'done' }, reply: undefined });
  drop.close();
});

t.test('knobs: defaults, bad values reported together, deterministic hash', async (t) => {
  t.same(knobsFromEnv({}), { failRate: 0.2, outOfStockRate: 0.05, slowMs: 0, dropReplyRate: 0, busyRate: 0 });
  t.throws(() => knobsFromEnv({ DEMO_FAIL_RATE: '2', DEMO_SLOW_MS: 'x' }), { code: 'SAGA_ERR_CONFIG', message: /DEMO_FAIL_RATE="2".*DEMO_SLOW_MS="x"/ });
  t.equal(unitHash('pay:order-1'), unitHash('pay:order-1'));
  const declined = Array.from({ length: 1000 }, (_, i) => unitHash(`pay:order-${i}`) < 0.2).filter(Boolean).length;
  t.ok(declined > 150 && declined < 250, `about 20% declined (${declined})`);
});
