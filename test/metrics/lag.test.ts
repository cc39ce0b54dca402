import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import t from 'tap';
import type { LogFn, LogLevel } from '../../engine/log.js';
import { jetStreamBacklog, LagMonitor, lagReasons, type WatchedConsumer } from '../../engine/metrics/lag.js';
import { Metrics, type ScrapeGauges } from '../../engine/metrics/registry.js';
import { connectNats } from '../../engine/transport/connection.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { parseExposition, valueOf } from '../helpers/exposition.js';

/**
 * The lag monitor against a real nats-server: the backlog it reads from a durable consumer's
 * info and the oldest unacknowledged message, the crossing logged once each way, the gauges
 * and the /readyz check.
 */
const nats = await startNatsServer();
const link = await connectNats({ url: nats.url, name: 'lag-test' });
t.teardown(async () => {
  await link.close();
  await nats.stop();
});
await link.jsm.streams.add({ name: 'LAGT', subjects: ['lagt.>'] });
await link.jsm.consumers.add('LAGT', { durable_name: 'sagad-lagt_events', filter_subject: 'lagt.events', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
const watched: WatchedConsumer = { stream: 'LAGT', durable: 'sagad-lagt_events', subject: 'lagt.events' };
const read = jetStreamBacklog(link.jsm);
const noGauges: ScrapeGauges = { instances: [], timersPending: 0, outboxBacklog: 0, outboxOldestAt: null, deadLetters: 0, consumerLag: 0, now: 0 };

/** Publishes on `subject`; resolves with the time JetStream stored the message. */
async function published(subject: string): Promise<number> {
  const ack = await link.js.publish(subject, new TextEncoder().encode('x'));
  const stored = await link.jsm.streams.getMessage('LAGT', { seq: ack.seq });
  if (stored === null) throw new Error(`message ${ack.seq} not stored`);
  return stored.time.getTime();
}

/** Fetches up to `n` messages of the watched consumer, acknowledging the first `ack` of them. */
async function take(n: number, ack: number): Promise<void> {
  const c = await link.js.consumers.get('LAGT', watched.durable);
  const batch = await c.fetch({ max_messages: n, expires: 2000 });
  let i = 0;
  for await (const m of batch) {
    if (i++ < ack) await m.ackAck();
    if (i >= n) break;
  }
}

t.test('the backlog: pending, ack-pending and the oldest unacknowledged message on the subject', async (t) => {
  t.same(await read(watched), { pending: 0, ackPending: 0, oldestAt: null }, 'nothing waits');
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    times.push(await published('lagt.events'));
    await published('lagt.other'); // the stream's other subject does not count
  }
  t.same(await read(watched), { pending: 5, ackPending: 0, oldestAt: times[0] }, 'five waiting, the first is the oldest');
  await take(2, 1);
  t.same(await read(watched), { pending: 3, ackPending: 1, oldestAt: times[1] }, 'after one ack, the delivered-but-unacked second is the oldest');
});

t.test('a crossing is logged once each way; the gauges and the readiness check follow', async (t) => {
  const lines: { level: LogLevel; msg: string; fields: Record<string, unknown> }[] = [];
  const log: LogFn = (level, msg, fields = {}) => lines.push({ level, msg, fields });
  const metrics = new Metrics();
  const monitor = new LagMonitor([watched], { maxMessages: 3, maxAgeMs: undefined }, read, metrics, log);
  t.same(monitor.check(), { ok: true }, 'before a sample');

  await monitor.sample();
  await monitor.sample();
  t.equal(lines.length, 1, 'one line for two samples past the threshold');
  t.match(lines[0], { level: 'warn', msg: 'consumer lagging', fields: { consumer: watched.durable, subject: 'lagt.events', pending: 3, ackPending: 1 } });
  t.match((lines[0]?.fields.reasons as string[] | undefined)?.join(), /4 messages not yet processed, more than SAGA_LAG_MAX=3/);
  t.ok((lines[0]?.fields.oldestAgeSeconds as number) >= 0);
  const check = monitor.check();
  t.equal(check.ok, false, 'the readiness check reports it');
  t.match(check.detail, /sagad-lagt_events: 4 messages not yet processed/);
  t.equal(monitor.total(), 4);
  let s = parseExposition(await metrics.render(noGauges));
  t.equal(valueOf(s, 'sagad_consumer_lagging', { consumer: watched.durable }), 1);
  t.equal(valueOf(s, 'sagad_consumer_pending', { consumer: watched.durable }), 3);
  t.equal(valueOf(s, 'sagad_consumer_ack_pending', { consumer: watched.durable }), 1);

  await take(5, 5); // the redelivery of the unacked one comes after its ack wait; the three pending now
  await monitor.sample();
  t.equal(lines.length, 2, 'one more line');
  t.match(lines[1], { level: 'info', msg: 'consumer caught up', fields: { consumer: watched.durable } });
  t.same(monitor.check(), { ok: true }, 'the check is ok again');
  s = parseExposition(await metrics.render(noGauges));
  t.equal(valueOf(s, 'sagad_consumer_lagging', { consumer: watched.durable }), 0);
  await monitor.sample();
  t.equal(lines.length, 2, 'nothing more while under the threshold');
});

t.test('the age threshold: the oldest waiting message against SAGA_LAG_MAX_AGE', async (t) => {
  // A consumer of its own: the one above still holds an unacknowledged message.
  await link.jsm.consumers.add('LAGT', { durable_name: 'sagad-lagt_age', filter_subject: 'lagt.age', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
  const aged: WatchedConsumer = { stream: 'LAGT', durable: 'sagad-lagt_age', subject: 'lagt.age' };
  const oldest = await published('lagt.age');
  await published('lagt.age');
  const lines: string[] = [];
  const log: LogFn = (_level, msg, fields = {}) => lines.push(`${msg} ${JSON.stringify(fields.reasons ?? '')}`);
  // The clock reads 90 s after the message was stored: a deterministic age.
  const monitor = new LagMonitor([aged], { maxMessages: undefined, maxAgeMs: 60_000 }, read, new Metrics(), log, () => oldest + 90_000);
  await monitor.sample();
  t.match(lines, [/consumer lagging .*the oldest waits since 90\.0 s, longer than SAGA_LAG_MAX_AGE=60 s/]);
  const young = new LagMonitor([aged], { maxMessages: undefined, maxAgeMs: 60_000 }, read, new Metrics(), log, () => oldest + 30_000);
  await young.sample();
  t.equal(lines.length, 1, '30 s is under the limit');
  t.equal(young.check().ok, true);
});

t.test('lagReasons: no limits, no reasons; each limit on its own', async (t) => {
  const b = { pending: 10, ackPending: 5, oldestAt: 1_000 };
  t.same(lagReasons(b, { maxMessages: undefined, maxAgeMs: undefined }, 100_000), []);
  t.same(lagReasons(b, { maxMessages: 15, maxAgeMs: undefined }, 100_000), [], 'at the limit is not past it');
  t.equal(lagReasons(b, { maxMessages: 14, maxAgeMs: 98_999 }, 100_000).length, 2);
  t.same(lagReasons({ pending: 0, ackPending: 0, oldestAt: null }, { maxMessages: 0, maxAgeMs: 0 }, 100_000), [], 'nothing waiting never lags');
});
